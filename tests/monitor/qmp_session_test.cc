#include "vmm/monitor/qmp_session.h"

#include <gtest/gtest.h>

#include <string>

namespace rrvm::monitor {
namespace {

class QmpSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(table_
                    .add(CommandSpec{"echo",
                                     {{"text", ArgType::String, true}, {"n", ArgType::Int, false}},
                                     [](const Json& args) -> Result<Json> {
                                       return Json{{"text", args.at("text")}};
                                     }})
                    .ok());
    ASSERT_TRUE(table_
                    .add(CommandSpec{
                        "fail",
                        {},
                        [](const Json&) -> Result<Json> { return rrvm::make_error("it broke"); }})
                    .ok());
  }
  Json send(const std::string& text) { return session_.handle({text, {}}); }
  static std::string error_class(const Json& r) { return r.at("error").at("class"); }
  static std::string desc(const Json& r) { return r.at("error").at("desc"); }

  CommandTable table_;
  int dispatched_ = 0;
  bool refuse_ = false;
  QmpSession session_{table_, [this](const std::string& span, std::function<void()> fn) {
                        EXPECT_EQ(span, "qmp_dispatch");
                        if (refuse_) return false;
                        ++dispatched_;
                        fn();
                        return true;
                      }};
};

TEST_F(QmpSessionTest, CommandsWaitForCapabilitiesNegotiation) {
  Json r = send(R"({"execute":"echo","arguments":{"text":"x"}})");
  EXPECT_EQ(error_class(r), "CommandNotFound");
  EXPECT_EQ(desc(r), "Expecting capabilities negotiation with 'qmp_capabilities'");
  EXPECT_FALSE(session_.negotiated());
  EXPECT_EQ(send(R"({"execute":"qmp_capabilities"})"), Json::parse(R"({"return":{}})"));
  EXPECT_TRUE(session_.negotiated());
  r = send(R"({"execute":"qmp_capabilities"})");
  EXPECT_EQ(error_class(r), "CommandNotFound");
  EXPECT_EQ(desc(r), "Capabilities negotiation is already complete, command ignored");
  EXPECT_EQ(dispatched_, 0);
}

TEST_F(QmpSessionTest, RunsCommandsThroughTheDispatcherAndEchoesTheId) {
  send(R"({"execute":"qmp_capabilities"})");
  Json r = send(R"({"execute":"echo","arguments":{"text":"hi"},"id":{"seq":7}})");
  EXPECT_EQ(r.at("return").at("text"), "hi");
  EXPECT_EQ(r.at("id").at("seq"), 7);
  EXPECT_EQ(dispatched_, 1);
  r = send(R"({"execute":"fail","id":"f1"})");
  EXPECT_EQ(error_class(r), "GenericError");
  EXPECT_EQ(desc(r), "it broke");
  EXPECT_EQ(r.at("id"), "f1");
}

TEST_F(QmpSessionTest, BadInputGetsQemusErrors) {
  send(R"({"execute":"qmp_capabilities"})");
  struct Case {
    const char* input;
    const char* cls;
    const char* desc_prefix;
  } cases[] = {
      {R"({"execute": stop})", "GenericError", "JSON parse error, "},
      {R"([1,2])", "GenericError", "QMP input must be a JSON object"},
      {"hello", "GenericError", "JSON parse error, "},
      {R"({"arguments":{}})", "GenericError", "QMP input lacks member 'execute'"},
      {R"({"execute":42})", "GenericError", "QMP input member 'execute' must be a string"},
      {R"({"execute":"echo","arguments":[]})", "GenericError",
       "QMP input member 'arguments' must be an object"},
      {R"({"execute":"echo","bogus":1})", "GenericError", "QMP input member 'bogus' is unexpected"},
      {R"({"execute":"nope"})", "CommandNotFound", "The command nope has not been found"},
      {R"({"execute":"echo"})", "GenericError", "Parameter 'text' is missing"},
      {R"({"execute":"echo","arguments":{"text":1}})", "GenericError",
       "Invalid parameter type for 'text', expected: string"},
      {R"({"execute":"echo","arguments":{"text":"a","n":"x"}})", "GenericError",
       "Invalid parameter type for 'n', expected: integer"},
      {R"({"execute":"echo","arguments":{"text":"a","extra":1}})", "GenericError",
       "Parameter 'extra' is unexpected"},
  };
  for (const auto& c : cases) {
    Json r = send(c.input);
    ASSERT_TRUE(r.contains("error")) << c.input;
    EXPECT_EQ(error_class(r), c.cls) << c.input;
    EXPECT_EQ(desc(r).rfind(c.desc_prefix, 0), 0u) << c.input << " -> " << desc(r);
  }
  EXPECT_EQ(dispatched_, 0);
  Json too_large = session_.handle({"{\"execute\":", "QMP input too large"});
  EXPECT_EQ(desc(too_large), "JSON parse error, QMP input too large");
  // The session is unharmed.
  EXPECT_EQ(send(R"({"execute":"echo","arguments":{"text":"ok"}})").at("return").at("text"), "ok");
}

TEST_F(QmpSessionTest, OnlyKnownCapabilitiesCanBeEnabled) {
  Json r = send(R"({"execute":"qmp_capabilities","arguments":{"enable":["oob"]}})");
  EXPECT_EQ(desc(r), "Capability 'oob' not available");
  EXPECT_FALSE(session_.negotiated());
  EXPECT_TRUE(
      send(R"({"execute":"qmp_capabilities","arguments":{"enable":[]}})").contains("return"));
}

TEST_F(QmpSessionTest, ARefusedDispatchIsReportedNotRun) {
  send(R"({"execute":"qmp_capabilities"})");
  refuse_ = true;
  Json r = send(R"({"execute":"echo","arguments":{"text":"x"}})");
  EXPECT_EQ(desc(r), "rrvm is shutting down, command not run");
}

TEST(QmpMessages, GreetingAndEventsHaveQemusShape) {
  Json g = make_greeting({.major = 0, .minor = 1, .micro = 0, .package = "rrvm 0.1.0"});
  EXPECT_EQ(
      g.dump(),
      R"({"QMP":{"version":{"qemu":{"micro":0,"minor":1,"major":0},"package":"rrvm 0.1.0"},"capabilities":[]}})");
  auto t = std::chrono::system_clock::time_point(std::chrono::microseconds(1267041653715133));
  EXPECT_EQ(make_event("STOP", Json(), t).dump(),
            R"({"timestamp":{"seconds":1267041653,"microseconds":715133},"event":"STOP"})");
  EXPECT_EQ(
      make_event("SHUTDOWN", Json{{"guest", true}, {"reason", "guest-shutdown"}}, t).dump(),
      R"({"timestamp":{"seconds":1267041653,"microseconds":715133},"event":"SHUTDOWN","data":{"guest":true,"reason":"guest-shutdown"}})");
}

TEST(QmpMessages, RrvmVersionInTheGreeting) {
  QmpVersion v = rrvm_qmp_version();
  EXPECT_EQ(v.package, "rrvm " + std::to_string(v.major) + "." + std::to_string(v.minor) + "." +
                           std::to_string(v.micro));
  EXPECT_EQ(make_greeting(v)["QMP"]["version"]["package"], v.package);
}

TEST(CommandTable, RefusesDuplicates) {
  CommandTable t;
  ASSERT_TRUE(t.add({"x", {}, [](const Json&) -> Result<Json> { return Json::object(); }}).ok());
  EXPECT_FALSE(t.add({"x", {}, [](const Json&) -> Result<Json> { return Json::object(); }}).ok());
  EXPECT_EQ(t.names(), std::vector<std::string>{"x"});
  EXPECT_EQ(t.find("y"), nullptr);
}

}  // namespace
}  // namespace rrvm::monitor
