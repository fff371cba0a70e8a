#include "vmm/core/main_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace rrvm::core {
namespace {

TEST(MainLoop, CallRunsOnTheLoopThreadAndWaits) {
  MainLoop loop;
  std::atomic<bool> quit{false};
  std::thread::id loop_id;
  std::thread t([&] {
    loop_id = std::this_thread::get_id();
    loop.run([&] { return quit.load(); });
  });
  std::thread::id ran_on;
  bool in_loop = false;
  EXPECT_TRUE(loop.call("job", [&] {
    ran_on = std::this_thread::get_id();
    in_loop = loop.in_loop_thread();
  }));
  EXPECT_EQ(ran_on, loop_id);
  EXPECT_TRUE(in_loop);
  EXPECT_FALSE(loop.in_loop_thread());
  quit = true;
  loop.notify();
  t.join();
  EXPECT_TRUE(loop.finished());
}

TEST(MainLoop, CallAfterTheLoopFinishedIsRefused) {
  MainLoop loop;
  loop.run([] { return true; });
  bool ran = false;
  EXPECT_FALSE(loop.call("late", [&] { ran = true; }));
  EXPECT_FALSE(loop.post("late", [&] { ran = true; }));
  EXPECT_FALSE(ran);
}

TEST(MainLoop, PendingCallsAreRefusedWhenAJobEndsTheLoop) {
  MainLoop loop;
  std::atomic<bool> quit{false};
  std::atomic<int> ran{0};
  // Two jobs queued before the loop starts: the first asks the loop to end, so the second must be
  // refused (its caller unblocked), not run after shutdown began.
  ASSERT_TRUE(loop.post("quit", [&] {
    quit = true;
    ++ran;
  }));
  bool second_result = true;
  std::thread caller([&] { second_result = loop.call("second", [&] { ran += 10; }); });
  while (loop.pending() < 2) std::this_thread::yield();  // call() has queued and blocks
  loop.run([&] { return quit.load(); });
  caller.join();
  EXPECT_EQ(ran.load(), 1);
  EXPECT_FALSE(second_result);
}

TEST(MainLoop, NotifyMakesTheLoopPollAgain) {
  MainLoop loop;
  std::atomic<int> polls{0};
  std::atomic<bool> quit{false};
  std::thread t([&] {
    loop.run([&] {
      ++polls;
      return quit.load();
    });
  });
  while (polls.load() < 1) std::this_thread::yield();
  quit = true;
  loop.notify();
  t.join();
  EXPECT_GE(polls.load(), 2);
}

TEST(MainLoop, CallOnTheLoopThreadRunsDirectly) {
  MainLoop loop;
  int depth = 0;
  loop.post("outer", [&] { EXPECT_TRUE(loop.call("inner", [&] { depth = 2; })); });
  loop.run([&] { return depth == 2; });
  EXPECT_EQ(depth, 2);
}

}  // namespace
}  // namespace rrvm::core
