// The parallel loops b2bseg uses: oneTBB's, in one place. The TSan build links a oneTBB built
// with TSan (scripts/tsan-tbb.sh), so its hand-overs need no marks here.
#pragma once

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_sort.h>

namespace b2bseg::detail {

/// tbb::parallel_for over [first, last), one call of f per index.
template <class Index, class F>
void parallel_for(Index first, Index last, const F& f) {
  tbb::parallel_for(first, last, [&f](Index i) { f(i); });
}

/// tbb::parallel_for over a range, one call of f per sub-range.
template <class Value, class F>
void parallel_for(const tbb::blocked_range<Value>& range, const F& f) {
  tbb::parallel_for(range, [&f](const tbb::blocked_range<Value>& r) { f(r); });
}

/// tbb::parallel_sort.
template <class It, class Less>
void parallel_sort(It first, It last, const Less& less) {
  tbb::parallel_sort(first, last, less);
}

}  // namespace b2bseg::detail
