// Processes that evaluate one graph together (SPEC 8): what the scale-out code needs from its
// runtime, one collective, and two runtimes: threads in one process (tests, and a single-process
// run) and MPI (dist/mpi_comm.hpp, with the CMake option B2BSEG_MPI).
#pragma once

#include <algorithm>
#include <barrier>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "b2bseg/common/error.hpp"
#include "b2bseg/common/wire.hpp"

namespace b2bseg::dist {

/// A group of `size()` processes, this one numbered `rank()`. Every call is collective: each
/// rank makes the same calls in the same order.
class communicator {
 public:
  virtual ~communicator() = default;
  virtual int rank() const noexcept = 0;
  virtual int size() const noexcept = 0;
  /// Sends `out[d]` to rank d (out.size() == size()) and returns what each rank sent to this
  /// one (`in[s]` from rank s). Collective; O(bytes sent and received). Throws data_error when
  /// the runtime fails.
  virtual std::vector<std::string> exchange(std::vector<std::string> out) = 0;
};

/// Size 1: exchange hands back what it is given.
class solo_communicator final : public communicator {
 public:
  int rank() const noexcept override { return 0; }
  int size() const noexcept override { return 1; }
  std::vector<std::string> exchange(std::vector<std::string> out) override { return out; }
};

/// `n` ranks as threads of this process, for tests and for checking the distributed path
/// without MPI. `run(f)` calls f(comm) on n threads and rethrows the first exception (of the
/// lowest rank) once all returned. A rank that throws while others wait in `exchange` would
/// leave them waiting: callers agree on errors first (see `agree_on_error`), as with MPI.
class thread_world {
 public:
  explicit thread_world(int n) : n_(n < 1 ? 1 : n), slots_(n_ * n_), sync_(n_) {}

  void run(const std::function<void(communicator&)>& f) {
    std::vector<std::exception_ptr> errors(n_);
    std::vector<std::thread> ts;
    for (int r = 0; r < n_; ++r)
      ts.emplace_back([&, r] {
        member m(*this, r);
        try {
          f(m);
        } catch (...) {
          errors[r] = std::current_exception();
        }
      });
    for (auto& t : ts) t.join();
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  }

 private:
  class member final : public communicator {
   public:
    member(thread_world& w, int r) : w_(w), r_(r) {}
    int rank() const noexcept override { return r_; }
    int size() const noexcept override { return w_.n_; }
    std::vector<std::string> exchange(std::vector<std::string> out) override {
      if (static_cast<int>(out.size()) != w_.n_)
        throw std::invalid_argument("exchange: one message per rank");
      for (int d = 0; d < w_.n_; ++d) w_.slots_[r_ * w_.n_ + d] = std::move(out[d]);
      w_.sync_.arrive_and_wait();  // every message is in place
      std::vector<std::string> in(w_.n_);
      for (int s = 0; s < w_.n_; ++s) in[s] = std::move(w_.slots_[s * w_.n_ + r_]);
      w_.sync_.arrive_and_wait();  // every message is taken: slots may be reused
      return in;
    }

   private:
    thread_world& w_;
    int r_;
  };

  int n_;
  std::vector<std::string> slots_;  // [from * n + to]
  std::barrier<> sync_;
};

// --- messages ---------------------------------------------------------------------------------

/// Sends every rank's `mine` to every rank: result[r] is rank r's. Collective.
inline std::vector<std::string> all_gather(communicator& c, const std::string& mine) {
  return c.exchange(std::vector<std::string>(static_cast<std::size_t>(c.size()), mine));
}

/// Sends every rank's `mine` to rank 0: there result[r] is rank r's; on the others every
/// string is empty. Collective.
inline std::vector<std::string> gather_to_first(communicator& c, std::string mine) {
  std::vector<std::string> out(static_cast<std::size_t>(c.size()));
  out[0] = std::move(mine);
  return c.exchange(std::move(out));
}

/// Rank 0's `text` on every rank (what the others pass is ignored). Collective.
inline std::string broadcast_from_first(communicator& c, const std::string& text) {
  std::vector<std::string> out(static_cast<std::size_t>(c.size()));
  if (c.rank() == 0) std::fill(out.begin(), out.end(), text);
  return std::move(c.exchange(std::move(out))[0]);
}

// --- errors -----------------------------------------------------------------------------------

/// An error a rank met, with the place it would have in a single process's run, so that all
/// ranks report the one error a single process reports: the lowest `order` wins.
struct ranked_error {
  std::vector<std::uint64_t> order;  ///< compared lexicographically
  std::string file;
  std::uint64_t line = 0, column = 0;
  std::string message;
};

/// A data_error every rank of a run throws alike (see `agree_on_error`): each can stop on it
/// without leaving another waiting.
class agreed_error : public data_error {
 public:
  using data_error::data_error;
};

/// Collective: every rank passes its error (or nullptr); if any rank has one, every rank
/// throws agreed_error with the lowest one, so that all stop together and none waits forever.
inline void agree_on_error(communicator& c, const ranked_error* mine) {
  std::string msg;
  if (mine) {
    wire_writer w(msg);
    w.u64(mine->order.size());
    for (auto v : mine->order) w.u64(v);
    w.str(mine->file);
    w.u64(mine->line);
    w.u64(mine->column);
    w.str(mine->message);
  }
  const std::vector<std::string> all = all_gather(c, msg);
  std::optional<ranked_error> best;
  for (const std::string& m : all) {
    if (m.empty()) continue;
    wire_reader rd(m);
    ranked_error e;
    e.order.resize(rd.u64());
    for (auto& v : e.order) v = rd.u64();
    e.file = std::string(rd.str());
    e.line = rd.u64();
    e.column = rd.u64();
    e.message = std::string(rd.str());
    if (!best || e.order < best->order) best = std::move(e);
  }
  if (best && best->file.empty()) throw agreed_error(best->message);
  if (best) throw agreed_error(best->file, best->line, best->column, best->message);
}

/// Runs `fn` on process 0 only (taking a lock, writing the output); a data_error it throws
/// becomes the agreed_error every process throws (agree_on_error). Collective.
template <class F>
void on_first(communicator& c, F&& fn) {
  std::optional<ranked_error> err;
  if (c.rank() == 0) {
    try {
      fn();
    } catch (const data_error& e) {
      err = ranked_error{{0}, "", 0, 0, e.what()};
    }
  }
  agree_on_error(c, err ? &*err : nullptr);
}

}  // namespace b2bseg::dist
