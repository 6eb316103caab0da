// mpi_random_cases DIR COUNT FIRST_SEED: writes COUNT random cases for the mpirun tests
// (run_mpi_eval.sh), each a folder DIR/case-SEED holding a random dataset with
// `"partition": "account"` (data/), random segments over it (segments.seg) and the instant they
// are evaluated at (as_of.txt, ISO 8601). The same generators as test_dist's thread-rank tests,
// so that real processes meet random graphs and random segments too.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/random_graph.hpp"
#include "support/random_segments.hpp"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s DIR COUNT FIRST_SEED\n", argv[0]);
    return 2;
  }
  const fs::path dir = argv[1];
  const int count = std::atoi(argv[2]);
  const std::uint64_t first = std::strtoull(argv[3], nullptr, 10);
  for (int k = 0; k < count; ++k) {
    const std::uint64_t seed = first + static_cast<std::uint64_t>(k);
    const b2bseg::test_support::random_dataset ds =
        b2bseg::test_support::make_random_dataset(seed, {.scale = 2.0, .exact_sizes = false});
    const fs::path c = dir / ("case-" + std::to_string(seed));
    fs::create_directories(c / "data");
    if (!b2bseg::test_support::write_dataset_files(ds, (c / "data").string())) {
      std::fprintf(stderr, "seed %llu: cannot write the dataset\n",
                   static_cast<unsigned long long>(seed));
      return 1;
    }
    b2bseg::test_support::add_partition((c / "data").string());
    b2bseg::test_support::segment_generator gen(ds.graph, ds.as_of, seed);
    b2bseg::test_support::segment_options so;
    so.segments = 12;
    so.top = 0;  // `top` without `per` is refused over several processes
    std::ofstream(c / "segments.seg", std::ios::binary) << gen.file(so).text;
    std::ofstream(c / "as_of.txt", std::ios::binary) << b2bseg::format_timestamp(ds.as_of);
  }
  return 0;
}
