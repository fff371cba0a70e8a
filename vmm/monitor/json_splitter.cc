#include "vmm/monitor/json_splitter.h"

#include <utility>

namespace rrvm::monitor {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

void JsonSplitter::finish(std::vector<Item>& out) {
  out.push_back(Item{std::move(buf_), false});
  buf_.clear();
  mode_ = Mode::Idle;
  depth_ = 0;
  in_string_ = false;
  escape_ = false;
}

// A text longer than max_bytes is reported once and the rest of it is skipped up to the next
// newline, so a hostile client cannot make the server hold unbounded memory.
void JsonSplitter::overflow(std::vector<Item>& out) {
  out.push_back(Item{buf_.substr(0, 64), true});
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
      overflow(out);
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
      ++depth_;
    } else if (c == '}' || c == ']') {
      if (--depth_ == 0) finish(out);
    }
  }
}

}  // namespace rrvm::monitor
