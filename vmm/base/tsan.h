// ThreadSanitizer hooks for code that plays the guest (-DRRVM_SANITIZE_THREAD=ON; no-ops
// otherwise).
//
// A guest writes its RAM in guest mode, on its own CPU, with no synchronisation with rrvm's
// threads: rrvm reads that RAM concurrently (migration, virtio) and relies on KVM's dirty log, not
// on a happens-before edge, to see the writes. TSan never sees a real guest's stores. Fakes that
// stand in for the guest on a host thread (the fake hypervisor's guest work, FakeMigratable's
// writer) would otherwise make every read of guest RAM a report; inside a GuestWriteScope their
// accesses are as invisible as a guest's, and TSan still checks everything rrvm itself does.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define RRVM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RRVM_TSAN 1
#endif
#endif

#ifdef RRVM_TSAN
// The TSan runtime's dynamic annotations. Despite the name, "ignore writes" makes the runtime
// ignore every memory access of the calling thread (plain and intercepted, reads included) until
// the matching End; synchronisation (mutexes, atomics' ordering) is still tracked.
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line);
#endif

namespace rrvm {

// While alive, the calling thread's memory accesses are invisible to TSan. Only for stores into
// guest RAM made on the guest's behalf by a fake; never around rrvm's own accesses.
class GuestWriteScope {
 public:
#ifdef RRVM_TSAN
  GuestWriteScope() { AnnotateIgnoreWritesBegin(__FILE__, __LINE__); }
  ~GuestWriteScope() { AnnotateIgnoreWritesEnd(__FILE__, __LINE__); }
#else
  GuestWriteScope() {}
#endif
  GuestWriteScope(const GuestWriteScope&) = delete;
  GuestWriteScope& operator=(const GuestWriteScope&) = delete;
};

}  // namespace rrvm
