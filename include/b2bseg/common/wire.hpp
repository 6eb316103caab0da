// Fixed-size integers and length-prefixed strings in a byte string: the messages of the ranks of
// an MPI run (dist/) and the source rows a snapshot carries (live/).
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace b2bseg {

/// Appends fixed-size integers and length-prefixed strings to `out` (host byte order: the ranks
/// of a run are the same program on the same kind of machine, and a snapshot records its byte
/// order in its header).
class wire_writer {
 public:
  explicit wire_writer(std::string& out) : out_(out) {}
  void u64(std::uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void str(std::string_view s) {
    u64(s.size());
    out_.append(s);
  }

 private:
  std::string& out_;
};

/// Reads what a wire_writer wrote, viewing `in` (which must outlive it). Throws
/// std::out_of_range on bytes cut short.
class wire_reader {
 public:
  explicit wire_reader(std::string_view in) : in_(in) {}
  bool done() const noexcept { return pos_ >= in_.size(); }
  /// Bytes not read yet.
  std::size_t left() const noexcept { return in_.size() - pos_; }
  std::uint64_t u64() {
    need(8);
    std::uint64_t v;
    std::memcpy(&v, in_.data() + pos_, 8);
    pos_ += 8;
    return v;
  }
  std::string_view str() {
    const std::uint64_t n = u64();
    need(n);
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  void need(std::uint64_t n) const {
    if (n > in_.size() - pos_) throw std::out_of_range("message cut short");
  }
  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace b2bseg
