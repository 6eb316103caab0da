// The parallel loops b2bseg uses: oneTBB's, plus the happens-before edges ThreadSanitizer cannot
// see because oneTBB's scheduler (libtbb.so) is not instrumented. Without TSan they cost nothing.
#pragma once

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_sort.h>

#include <algorithm>

#if defined(__SANITIZE_THREAD__)
#define B2BSEG_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define B2BSEG_TSAN 1
#endif
#endif

#if B2BSEG_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace b2bseg::detail {

#if B2BSEG_TSAN
inline char tsan_sync_object;
/// Marks that what this thread wrote so far happens before the next `tsan_after()` anywhere.
inline void tsan_before() noexcept {
  __tsan_release(&tsan_sync_object);
}
/// Marks that this thread has seen what every earlier `tsan_before()` published.
inline void tsan_after() noexcept {
  __tsan_acquire(&tsan_sync_object);
}
#else
inline void tsan_before() noexcept {}
inline void tsan_after() noexcept {}
#endif

/// tbb::parallel_for over [first, last), one call of f per index.
template <class Index, class F>
void parallel_for(Index first, Index last, const F& f) {
  tsan_before();
  tbb::parallel_for(first, last, [&f](Index i) {
    tsan_after();
    f(i);
    tsan_before();
  });
  tsan_after();
}

/// tbb::parallel_for over a range, one call of f per sub-range.
template <class Value, class F>
void parallel_for(const tbb::blocked_range<Value>& range, const F& f) {
  tsan_before();
  tbb::parallel_for(range, [&f](const tbb::blocked_range<Value>& r) {
    tsan_after();
    f(r);
    tsan_before();
  });
  tsan_after();
}

/// tbb::parallel_sort; a plain sort under TSan, whose comparisons cannot be annotated.
template <class It, class Less>
void parallel_sort(It first, It last, const Less& less) {
#if B2BSEG_TSAN
  std::sort(first, last, less);
#else
  tbb::parallel_sort(first, last, less);
#endif
}

}  // namespace b2bseg::detail
