#include "tests/e2e/qmp_client.h"

#include <cerrno>
#include <thread>

namespace rrvm::e2e {
namespace {

constexpr std::chrono::seconds REPLY_TIMEOUT{10};

// The tests use nlohmann::json; the monitor keeps member order (ordered_json).
nlohmann::json plain(const Result<monitor::Json>& reply) {
  return reply.ok() ? nlohmann::json(*reply) : nlohmann::json();
}

}  // namespace

std::string QmpClient::connect(const std::string& socket_path, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto client = monitor::QmpClient::connect(socket_path, REPLY_TIMEOUT);
    if (client.ok()) {
      client_.emplace(std::move(client).value());
      return "";
    }
    // Only a socket that is not there yet, or not listening yet, is worth another try.
    int err = client.error().err;
    bool starting = err == ENOENT || err == ECONNREFUSED;
    if (!starting || std::chrono::steady_clock::now() >= deadline) {
      return client.error().describe();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

nlohmann::json QmpClient::execute(const std::string& command, const nlohmann::json& arguments) {
  if (!client_) return nullptr;
  return plain(client_->request(
      command, arguments.is_null() ? monitor::Json::object() : monitor::Json(arguments)));
}

nlohmann::json QmpClient::send_raw(const std::string& line) {
  if (!client_) return nullptr;
  return plain(client_->send_raw(line));
}

std::optional<nlohmann::json> QmpClient::wait_event(const std::string& name,
                                                    std::chrono::milliseconds timeout) {
  if (!client_) return std::nullopt;
  auto event = client_->wait_event(name, timeout);
  if (!event.ok()) return std::nullopt;
  return nlohmann::json(*event);
}

bool QmpClient::ok(const std::string& command, const nlohmann::json& arguments) {
  return execute(command, arguments).contains("return");
}

std::string QmpClient::status() {
  nlohmann::json r = execute("query-status");
  return r.contains("return") ? str_field(r["return"], "status") : "";
}

std::string str_field(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace rrvm::e2e
