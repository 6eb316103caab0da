// A read-only file mapping that survives the file shrinking under it: the SIGBUS such a read
// raises is caught, the vanished pages read as zeros, and the change is reported as an error.
#pragma once

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include "b2bseg/common/error.hpp"

namespace b2bseg {

namespace detail {

/// The process-wide SIGBUS guard behind mapped_file: a fixed table of the address ranges of live
/// mappings, read lock-free by the signal handler. A fault inside a registered range maps a
/// zero page over the faulting page (so the read returns zeros instead of killing the process)
/// and marks the range; any other SIGBUS goes to the handler installed before, or kills the
/// process as it would have. Installed on first use, never removed.
class sigbus_guard {
 public:
  static constexpr int slots = 256;

  /// Registers [begin, begin + size); returns the slot, or -1 when every slot is taken (the
  /// mapping is then unguarded). Thread-safe.
  static int enter(const void* begin, std::size_t size) noexcept {
    install();
    auto* t = table();
    const auto b = reinterpret_cast<std::uintptr_t>(begin);
    for (int i = 0; i < slots; ++i) {
      std::uintptr_t expected = 0;
      if (t[i].begin.compare_exchange_strong(expected, b, std::memory_order_acq_rel)) {
        t[i].faulted.store(false, std::memory_order_relaxed);
        t[i].end.store(b + size, std::memory_order_release);
        return i;
      }
    }
    return -1;
  }

  /// Unregisters slot `i` (from enter; -1 is ignored).
  static void leave(int i) noexcept {
    if (i < 0) return;
    auto* t = table();
    t[i].end.store(0, std::memory_order_release);
    t[i].begin.store(0, std::memory_order_release);
  }

  /// Whether a read of slot `i`'s range faulted since enter.
  static bool faulted(int i) noexcept {
    return i >= 0 && table()[i].faulted.load(std::memory_order_acquire);
  }

 private:
  struct slot {
    std::atomic<std::uintptr_t> begin{0};
    std::atomic<std::uintptr_t> end{0};
    std::atomic<bool> faulted{false};
  };
  static slot* table() noexcept {
    static slot t[slots];
    return t;
  }
  static struct sigaction& previous() noexcept {
    static struct sigaction p {};
    return p;
  }
  static std::uintptr_t& page_size() noexcept {
    static std::uintptr_t n = 4096;
    return n;
  }

  static void install() noexcept {
    static std::once_flag once;
    std::call_once(once, [] {
      table();
      page_size() = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
      struct sigaction sa {};
      sa.sa_sigaction = &handle;
      sa.sa_flags = SA_SIGINFO | SA_NODEFER;
      sigemptyset(&sa.sa_mask);
      ::sigaction(SIGBUS, &sa, &previous());
    });
  }

  static void handle(int sig, siginfo_t* info, void* context) {
    const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
    auto* t = table();
    for (int i = 0; i < slots; ++i) {
      const std::uintptr_t b = t[i].begin.load(std::memory_order_acquire);
      const std::uintptr_t e = t[i].end.load(std::memory_order_acquire);
      if (b == 0 || addr < b || addr >= e) continue;
      // mmap is a plain system call on Linux, safe here. The zero page stays until munmap.
      // Called raw: other threads may be reading the page, and see the file's bytes or zeros,
      // a whole page either way (that is the design); a sanitizer's mmap wrapper would count
      // the remap as a write racing with their reads (TSan did).
      const std::uintptr_t page = addr & ~(page_size() - 1);
      if (::syscall(SYS_mmap, page, page_size(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                    -1, 0) == -1)
        break;
      t[i].faulted.store(true, std::memory_order_release);
      return;
    }
    const struct sigaction& prev = previous();
    if (prev.sa_flags & SA_SIGINFO) {
      if (prev.sa_sigaction) return prev.sa_sigaction(sig, info, context);
    } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
      return prev.sa_handler(sig);
    }
    // Not ours and nobody else's: die of it as the process would have.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(SIGBUS, &dfl, nullptr);
    ::raise(SIGBUS);
  }
};

}  // namespace detail

/// A whole regular file mapped read-only. If the file shrinks while it is mapped, reads of the
/// lost pages return zeros instead of killing the process (SIGBUS), and `changed()` turns true;
/// it is also true once the file's size or modification time differs from when it was mapped.
/// Move-only; unmaps on destruction.
class mapped_file {
 public:
  mapped_file() = default;
  /// Maps `size` bytes of the open regular file `fd` (left open by the caller; its `st` from
  /// fstat), every page read in at once unless `populate` is false (then pages are read when
  /// touched). `ok()` is false when the mapping failed (the caller then reads the file instead).
  mapped_file(int fd, const struct stat& st, bool populate = true)
      : size_(static_cast<std::size_t>(st.st_size)), fd_(::dup(fd)), st_(st) {
    void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
    if (m == MAP_FAILED) return;
    data_ = m;
    slot_ = detail::sigbus_guard::enter(data_, size_);
  }
  mapped_file(mapped_file&& o) noexcept { *this = std::move(o); }
  mapped_file& operator=(mapped_file&& o) noexcept {
    if (this != &o) {
      release();
      data_ = o.data_;
      size_ = o.size_;
      fd_ = o.fd_;
      slot_ = o.slot_;
      st_ = o.st_;
      o.data_ = nullptr;
      o.fd_ = -1;
      o.slot_ = -1;
    }
    return *this;
  }
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  ~mapped_file() { release(); }

  bool ok() const noexcept { return data_ != nullptr; }
  const char* data() const noexcept { return static_cast<const char*>(data_); }
  std::size_t size() const noexcept { return size_; }

  /// Gives back the memory of the mapped pages overlapping [offset, offset + len) (madvise
  /// MADV_DONTNEED): this process stops holding them, and a later read of them reads the file
  /// again (from the page cache). For a reader done with a part of a large file. O(pages).
  void drop(std::size_t offset, std::size_t len) const noexcept {
    if (!data_ || offset >= size_) return;
    len = std::min(len, size_ - offset);
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t from = offset / page * page;
    ::madvise(static_cast<char*>(data_) + from, offset + len - from, MADV_DONTNEED);
  }

  /// Copies [offset, offset + len) of the file into `out` with pread(2), leaving the mapping's
  /// pages untouched: on this kind of machine, copying a range is several times cheaper than
  /// mapping its pages in (bench/README.md, "Reading the CSV files"). False when the file now
  /// ends before offset + len (it shrank) or cannot be read. O(len).
  bool read(std::size_t offset, std::size_t len, char* out) const noexcept {
    while (len > 0) {
      const ssize_t r = ::pread(fd_, out, len, static_cast<off_t>(offset));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      out += r;
      offset += static_cast<std::size_t>(r);
      len -= static_cast<std::size_t>(r);
    }
    return true;
  }

  /// The file's status (fstat) when it was mapped.
  const struct stat& status() const noexcept { return st_; }
  /// Whether `st` (a status of the same path) shows the file as it was mapped: same size and
  /// modification time. O(1).
  bool same_as(const struct stat& st) const noexcept {
    return st.st_size == st_.st_size && st.st_mtim.tv_sec == st_.st_mtim.tv_sec &&
           st.st_mtim.tv_nsec == st_.st_mtim.tv_nsec;
  }

  /// True when a read hit a page the file no longer has, or the file's size or modification
  /// time changed since it was mapped. O(1): one fstat.
  bool changed() const noexcept {
    if (!data_) return false;
    if (detail::sigbus_guard::faulted(slot_)) return true;
    struct stat now {};
    if (::fstat(fd_, &now) != 0) return true;
    return !same_as(now);
  }

 private:
  void release() noexcept {
    if (data_) {
      detail::sigbus_guard::leave(slot_);
      ::munmap(data_, size_);
    }
    if (fd_ >= 0) ::close(fd_);
    data_ = nullptr;
    fd_ = -1;
    slot_ = -1;
  }

  void* data_ = nullptr;
  std::size_t size_ = 0;
  int fd_ = -1;
  int slot_ = -1;
  struct stat st_ {};
};

}  // namespace b2bseg
