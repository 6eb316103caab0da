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

/// MPI_COMM_WORLD as a communicator. `exchange` is MPI_Alltoall of the sizes, then
/// MPI_Alltoallv of the bytes in rounds of at most 1 GiB per pair (MPI counts are int).
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
    std::vector<std::uint64_t> send_sizes(n), recv_sizes(n);
    for (std::size_t d = 0; d < n; ++d) send_sizes[d] = out[d].size();
    check(MPI_Alltoall(send_sizes.data(), 1, MPI_UINT64_T, recv_sizes.data(), 1, MPI_UINT64_T,
                       MPI_COMM_WORLD));
    std::vector<std::string> in(n);
    for (std::size_t s = 0; s < n; ++s) in[s].resize(recv_sizes[s]);
    // Each round moves at most 1 GiB in all, so that every MPI count and offset fits an int.
    const std::uint64_t piece = (std::uint64_t{1} << 30) / n;
    std::uint64_t most = 0;
    for (std::size_t i = 0; i < n; ++i) most = std::max({most, send_sizes[i], recv_sizes[i]});
    std::uint64_t rounds = (most + piece - 1) / piece;
    check(MPI_Allreduce(MPI_IN_PLACE, &rounds, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD));
    std::vector<int> sc(n), sd(n), rc(n), rd(n);
    std::string sbuf, rbuf;
    for (std::uint64_t k = 0; k < rounds; ++k) {
      sbuf.clear();
      int total_r = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t from = k * piece;
        const std::uint64_t ssz = send_sizes[i] > from ? std::min(piece, send_sizes[i] - from) : 0;
        const std::uint64_t rsz = recv_sizes[i] > from ? std::min(piece, recv_sizes[i] - from) : 0;
        sd[i] = static_cast<int>(sbuf.size());
        sc[i] = static_cast<int>(ssz);
        sbuf.append(out[i], from < out[i].size() ? from : out[i].size(), ssz);
        rd[i] = total_r;
        rc[i] = static_cast<int>(rsz);
        total_r += rc[i];
      }
      rbuf.resize(static_cast<std::size_t>(total_r));
      check(MPI_Alltoallv(sbuf.data(), sc.data(), sd.data(), MPI_BYTE, rbuf.data(), rc.data(),
                          rd.data(), MPI_BYTE, MPI_COMM_WORLD));
      for (std::size_t i = 0; i < n; ++i)
        if (rc[i]) in[i].replace(k * piece, static_cast<std::size_t>(rc[i]), rbuf, rd[i], rc[i]);
    }
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
