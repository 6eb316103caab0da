// Counter-based random numbers, keyed permutations and sampling helpers of the dataset generator.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

namespace b2bseg::detail::gen {

/// The splitmix64 finalizer: a bijective 64-bit mixer.
constexpr std::uint64_t mix64(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Random streams: one per kind of draw, so that adding a draw to one kind leaves the others alone.
enum class stream : std::uint64_t {
  account_size = 1,
  account_core,
  account_row,
  account_parent,
  opportunity_count,
  opportunity,
  person_core,
  person_row,
  account_relation,
  campaign,
  campaign_member,
  marketing_list,
  list_member,
  event,
  permutation,
  source_account,  ///< raw exports (gen/sources.hpp): per account and its opportunities
  source_person,   ///< raw exports: which systems hold a person, spellings, ids
};

/// A splitmix64 generator keyed by (seed, stream, index): the same triple gives the same sequence
/// on any thread, so rows can be generated in any order and in parallel. Not cryptographic.
class rng {
 public:
  rng(std::uint64_t seed, stream s, std::uint64_t index) noexcept
      : state_(mix64(mix64(seed + 0x9e3779b97f4a7c15ULL * (static_cast<std::uint64_t>(s) + 1)) ^
                     (index * 0xd1b54a32d192ed03ULL + 0x2545f4914f6cdd1dULL))) {}

  /// The next 64 random bits.
  std::uint64_t next() noexcept {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix64(state_);
  }
  /// Uniform in [0, 1).
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform in [0, n); 0 when n is 0. (Lemire's multiply-shift; the bias is below 2^-32.)
  std::uint64_t below(std::uint64_t n) noexcept {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  /// Uniform in [lo, hi] (integers, lo <= hi).
  std::int64_t between(std::int64_t lo, std::int64_t hi) noexcept {
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  /// True with probability p.
  bool chance(double p) noexcept { return uniform() < p; }
  /// Standard normal (Box-Muller; one value per call).
  double normal() noexcept {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  /// Log-normal with the given median and shape sigma.
  double lognormal(double median, double sigma) noexcept {
    return median * std::exp(sigma * normal());
  }
  /// Pareto with minimum 1 and tail index alpha (heavier tail for smaller alpha).
  double pareto(double alpha) noexcept { return std::pow(1.0 - uniform(), -1.0 / alpha); }
  /// Poisson with mean lambda (multiplication method below 30, rounded normal above).
  std::uint64_t poisson(double lambda) noexcept {
    if (lambda <= 0) return 0;
    if (lambda < 30) {
      const double limit = std::exp(-lambda);
      double p = uniform();
      std::uint64_t k = 0;
      while (p > limit) {
        p *= uniform();
        ++k;
      }
      return k;
    }
    const double x = std::round(lambda + std::sqrt(lambda) * normal());
    return x < 0 ? 0 : static_cast<std::uint64_t>(x);
  }
  /// Skewed toward 0: u^power for power > 1 (used for "more recent is more likely").
  double skewed(double power) noexcept { return std::pow(uniform(), power); }

 private:
  std::uint64_t state_;
};

/// A value with a relative weight, for weighted choices.
struct weighted {
  std::string_view value;
  std::uint32_t weight;
};

/// A fixed list of weighted values; `pick` draws an index with probability weight/total.
template <std::size_t N>
struct weighted_list {
  std::array<weighted, N> items;
  std::uint32_t total = 0;

  constexpr explicit weighted_list(const std::array<weighted, N>& a) : items(a) {
    for (const auto& x : a) total += x.weight;
  }
  static constexpr std::size_t size() noexcept { return N; }
  std::size_t pick(rng& r) const noexcept {
    std::uint64_t t = r.below(total);
    for (std::size_t i = 0; i < N; ++i) {
      if (t < items[i].weight) return i;
      t -= items[i].weight;
    }
    return N - 1;
  }
  std::string_view pick_value(rng& r) const noexcept { return items[pick(r)].value; }
  constexpr std::string_view operator[](std::size_t i) const noexcept { return items[i].value; }
};

/// Builds a weighted_list from a braced list: `make_weighted<3>({{"a", 1}, {"b", 2}, {"c", 3}})`.
template <std::size_t N>
constexpr weighted_list<N> make_weighted(const weighted (&a)[N]) {
  std::array<weighted, N> arr{};
  for (std::size_t i = 0; i < N; ++i) arr[i] = a[i];
  return weighted_list<N>(arr);
}

/// Index drawn with the given relative integer weights (small tables, linear scan).
inline std::size_t pick_index(rng& r, std::initializer_list<std::uint32_t> weights) noexcept {
  std::uint64_t total = 0;
  for (auto w : weights) total += w;
  std::uint64_t t = r.below(total);
  std::size_t i = 0;
  for (auto w : weights) {
    if (t < w) return i;
    t -= w;
    ++i;
  }
  return weights.size() - 1;
}

/// A keyed pseudo-random bijection of [0, n): a 4-round Feistel network over the smallest even
/// number of bits covering n, with cycle walking. forward and inverse cost O(1) expected.
class permutation {
 public:
  permutation() = default;
  permutation(std::uint64_t n, std::uint64_t key) noexcept : n_(n) {
    unsigned bits = 2;
    while (bits < 64 && (std::uint64_t{1} << bits) < n) bits += 2;
    half_ = bits / 2;
    mask_ = (std::uint64_t{1} << half_) - 1;
    for (std::size_t i = 0; i < keys_.size(); ++i)
      keys_[i] = mix64(key + 0x632be59bd9b4e019ULL * (i + 1));
  }
  std::uint64_t size() const noexcept { return n_; }
  /// The image of x (x < size()).
  std::uint64_t forward(std::uint64_t x) const noexcept {
    if (n_ <= 1) return x;
    do x = encrypt(x);
    while (x >= n_);
    return x;
  }
  /// The x with forward(x) == y (y < size()).
  std::uint64_t inverse(std::uint64_t y) const noexcept {
    if (n_ <= 1) return y;
    do y = decrypt(y);
    while (y >= n_);
    return y;
  }

 private:
  std::uint64_t round_fn(std::uint64_t v, std::size_t i) const noexcept {
    return mix64(v ^ keys_[i]) & mask_;
  }
  std::uint64_t encrypt(std::uint64_t x) const noexcept {
    std::uint64_t l = x >> half_, r = x & mask_;
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      const std::uint64_t t = l ^ round_fn(r, i);
      l = r;
      r = t;
    }
    return (l << half_) | r;
  }
  std::uint64_t decrypt(std::uint64_t y) const noexcept {
    std::uint64_t l = y >> half_, r = y & mask_;
    for (std::size_t i = keys_.size(); i-- > 0;) {
      const std::uint64_t t = r ^ round_fn(l, i);
      r = l;
      l = t;
    }
    return (l << half_) | r;
  }

  std::uint64_t n_ = 0;
  unsigned half_ = 1;
  std::uint64_t mask_ = 1;
  std::array<std::uint64_t, 4> keys_{};
};

}  // namespace b2bseg::detail::gen
