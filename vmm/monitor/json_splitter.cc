#include "vmm/monitor/json_splitter.h"

#include <utility>

namespace rrvm::monitor {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

void JsonSplitter::finish(std::vector<Item>& out) {
  out.push_back(Item{std::move(buf_), {}});
  buf_.clear();
  mode_ = Mode::Idle;
  depth_ = 0;
  in_string_ = false;
  escape_ = false;
}

// A text longer than max_bytes or nested deeper than MAX_NESTING is reported once and the rest of
// it is skipped up to the next newline, so a hostile client cannot make the server hold unbounded
// memory or hand the parser a value whose depth could exhaust the stack.
void JsonSplitter::refuse(std::vector<Item>& out, const char* why) {
  out.push_back(Item{buf_.substr(0, 64), why});
  buf_.clear();
  mode_ = Mode::Discard;
  depth_ = 0;
  in_string_ = false;
  escape_ = false;
}

void JsonSplitter::feed(std::string_view bytes, std::vector<Item>& out) {
  for (char c : bytes) {
    switch (mode_) {
      case Mode::Discard:
        if (c == '\n') mode_ = Mode::Idle;
        continue;
      case Mode::Idle:
        if (is_space(c)) continue;
        mode_ = (c == '{' || c == '[') ? Mode::Value : Mode::Junk;
        break;
      case Mode::Junk:
        if (c == '\n') {
          finish(out);
          continue;
        }
        break;
      case Mode::Value:
        break;
    }
    buf_.push_back(c);
    if (buf_.size() > max_bytes_) {
      refuse(out, "QMP input too large");
      continue;
    }
    if (mode_ != Mode::Value) continue;
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
    } else if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      if (++depth_ > MAX_NESTING) refuse(out, "JSON nesting depth limit exceeded");
    } else if (c == '}' || c == ']') {
      if (--depth_ == 0) finish(out);
    }
  }
}

}  // namespace rrvm::monitor
