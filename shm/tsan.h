// tsan.h: defines HOKM_TSAN when built with ThreadSanitizer, which does not
// model std::atomic_thread_fence (GCC warns with -Wtsan); code that relies
// on fences uses an equivalent stronger ordering under it.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define HOKM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HOKM_TSAN 1
#endif
#endif
