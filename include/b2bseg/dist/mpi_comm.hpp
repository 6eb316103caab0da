// The MPI runtime of a scale-out run (SPEC 8): `mpirun -n N b2bseg eval ...`. Built only with
// the CMake option B2BSEG_MPI (Debian's Open MPI); the rest of b2bseg never needs it.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "b2bseg/common/error.hpp"
#include "b2bseg/dist/comm.hpp"

namespace b2bseg::dist {

/// MPI_Init on construction (unless already initialized), MPI_Finalize on destruction.
class mpi_session {
 public:
  mpi_session(int* argc, char*** argv) {
    int done = 0;
    MPI_Initialized(&done);
    if (!done) {
      MPI_Init(argc, argv);
      owns_ = true;
    }
  }
  mpi_session(const mpi_session&) = delete;
  mpi_session& operator=(const mpi_session&) = delete;
  ~mpi_session() {
    if (owns_) MPI_Finalize();
  }
  /// Processes in MPI_COMM_WORLD.
  static int world_size() {
    int n = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
  }
  /// Ends every process of the run at once with `code` (a process that cannot go on while the
  /// others wait in a collective).
  static void abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

 private:
  bool owns_ = false;
};

/// MPI_COMM_WORLD as a communicator. `exchange` is MPI_Alltoall of the sizes, then one
/// nonblocking send and receive per pair, straight between the strings.
class mpi_communicator final : public communicator {
 public:
  mpi_communicator() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const noexcept override { return rank_; }
  int size() const noexcept override { return size_; }

  std::vector<std::string> exchange(std::vector<std::string> out) override {
    const auto n = static_cast<std::size_t>(size_);
    const auto me = static_cast<std::size_t>(rank_);
    std::vector<std::uint64_t> send_sizes(n), recv_sizes(n);
    for (std::size_t d = 0; d < n; ++d) send_sizes[d] = out[d].size();
    check(MPI_Alltoall(send_sizes.data(), 1, MPI_UINT64_T, recv_sizes.data(), 1, MPI_UINT64_T,
                       MPI_COMM_WORLD));
    // Each message goes straight from its string into the receiver's (no packing), in pieces
    // of at most 1 GiB (MPI counts are int), piece k with tag k.
    constexpr std::uint64_t piece = std::uint64_t{1} << 30;
    std::vector<std::string> in(n);
    std::vector<MPI_Request> reqs;
    for (std::size_t s = 0; s < n; ++s) {
      if (s == me) continue;
      in[s].resize(recv_sizes[s]);
      for (std::uint64_t off = 0, k = 0; off < recv_sizes[s]; off += piece, ++k) {
        reqs.emplace_back();
        check(MPI_Irecv(in[s].data() + off, static_cast<int>(std::min(piece, recv_sizes[s] - off)),
                        MPI_BYTE, static_cast<int>(s), static_cast<int>(k), MPI_COMM_WORLD,
                        &reqs.back()));
      }
    }
    for (std::size_t d = 0; d < n; ++d) {
      if (d == me) continue;
      for (std::uint64_t off = 0, k = 0; off < send_sizes[d]; off += piece, ++k) {
        reqs.emplace_back();
        check(MPI_Isend(out[d].data() + off, static_cast<int>(std::min(piece, send_sizes[d] - off)),
                        MPI_BYTE, static_cast<int>(d), static_cast<int>(k), MPI_COMM_WORLD,
                        &reqs.back()));
      }
    }
    in[me] = std::move(out[me]);
    check(MPI_Waitall(static_cast<int>(reqs.size()), reqs.data(), MPI_STATUSES_IGNORE));
    return in;
  }

 private:
  static void check(int rc) {
    if (rc != MPI_SUCCESS) {
      char text[MPI_MAX_ERROR_STRING];
      int len = 0;
      MPI_Error_string(rc, text, &len);
      throw data_error("MPI: " + std::string(text, static_cast<std::size_t>(len)));
    }
  }
  int rank_ = 0, size_ = 1;
};

}  // namespace b2bseg::dist
