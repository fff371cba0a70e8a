// The QMP command table: the commands the monitor knows, their arguments and their handlers.
//
// Later features register their own commands (migrate, query-migrate, ...) with add() before the
// server starts or while it runs. Arguments are checked against the spec before the handler runs,
// with QEMU's error texts ("Parameter 'text' is missing"), so handlers only see valid arguments.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <string>
#include <vector>

#include "vmm/base/result.h"

namespace rrvm::monitor {

using Json = nlohmann::ordered_json;

enum class ArgType { String, Bool, Int, Number, Object, Any };

struct ArgSpec {
  std::string name;
  ArgType type = ArgType::Any;
  bool required = true;
};

// A handler returns the "return" value ({} when there is nothing to say) or an Error whose
// message becomes the GenericError "desc".
using CommandHandler = std::function<Result<Json>(const Json& args)>;

struct CommandSpec {
  std::string name;
  std::vector<ArgSpec> args;
  CommandHandler handler;
  // Run on the VM's main loop (like QEMU's BQL). False for commands that touch no VM state and
  // may answer while the main loop is busy (trace-mark, query-commands).
  bool main_loop = true;
};

class CommandTable {
 public:
  // Error when a command of that name exists already.
  Status add(CommandSpec spec);
  // nullptr when unknown. The spec stays valid for the table's lifetime.
  std::shared_ptr<const CommandSpec> find(const std::string& name) const;
  std::vector<std::string> names() const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<const CommandSpec>> commands_;
};

// Checks `args` against `spec`; the error message is QEMU's wording.
Status validate_args(const CommandSpec& spec, const Json& args);

}  // namespace rrvm::monitor
