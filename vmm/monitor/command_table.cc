#include "vmm/monitor/command_table.h"

#include <mutex>

namespace rrvm::monitor {
namespace {

bool type_matches(ArgType type, const Json& v) {
  switch (type) {
    case ArgType::String:
      return v.is_string();
    case ArgType::Bool:
      return v.is_boolean();
    case ArgType::Int:
      return v.is_number_integer();
    case ArgType::Number:
      return v.is_number();
    case ArgType::Object:
      return v.is_object();
    case ArgType::Any:
      return true;
  }
  return false;
}

const char* type_name(ArgType type) {
  switch (type) {
    case ArgType::String:
      return "string";
    case ArgType::Bool:
      return "boolean";
    case ArgType::Int:
      return "integer";
    case ArgType::Number:
      return "number";
    case ArgType::Object:
      return "object";
    case ArgType::Any:
      return "any";
  }
  return "any";
}

}  // namespace

Status CommandTable::add(CommandSpec spec) {
  std::unique_lock lock(mu_);
  if (commands_.count(spec.name))
    return make_error("QMP command '" + spec.name + "' registered twice");
  std::string name = spec.name;
  commands_.emplace(std::move(name), std::make_shared<const CommandSpec>(std::move(spec)));
  return ok_status();
}

std::shared_ptr<const CommandSpec> CommandTable::find(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = commands_.find(name);
  return it == commands_.end() ? nullptr : it->second;
}

std::vector<std::string> CommandTable::names() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, spec] : commands_) out.push_back(name);
  return out;
}

Status validate_args(const CommandSpec& spec, const Json& args) {
  for (const auto& arg : spec.args) {
    auto it = args.find(arg.name);
    if (it == args.end()) {
      if (arg.required) return make_error("Parameter '" + arg.name + "' is missing");
      continue;
    }
    if (!type_matches(arg.type, *it)) {
      return make_error("Invalid parameter type for '" + arg.name +
                        "', expected: " + type_name(arg.type));
    }
  }
  for (const auto& [key, value] : args.items()) {
    bool known = false;
    for (const auto& arg : spec.args) known = known || arg.name == key;
    if (!known) return make_error("Parameter '" + key + "' is unexpected");
  }
  return ok_status();
}

}  // namespace rrvm::monitor
