// Splits a QMP byte stream into JSON texts.
//
// QMP is a stream of JSON objects, not lines: a client may send several objects on one line or
// one object over several lines. The splitter tracks nesting outside strings and hands out each
// complete top-level text; it does not parse (nlohmann_json does that). Bytes that cannot start a
// JSON object or array (a stray word, a closing brace) are collected up to the end of the line and
// handed out as one text, so that the parser reports them and the session answers with an error,
// as QEMU does.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rrvm::monitor {

class JsonSplitter {
 public:
  struct Item {
    std::string text;   // one complete JSON text (or junk up to a newline)
    std::string error;  // set when the text was refused (too large, nested too deep) and cut
  };

  // QEMU's limit (qobject/json-streamer.c): deeper input is refused before it is parsed.
  static constexpr int MAX_NESTING = 1024;

  explicit JsonSplitter(size_t max_bytes = 1 << 20) : max_bytes_(max_bytes) {}

  // Consumes `bytes` and appends every completed text to `out`.
  void feed(std::string_view bytes, std::vector<Item>& out);
  // Bytes of an incomplete text held back.
  size_t pending() const { return buf_.size(); }

 private:
  enum class Mode { Idle, Value, Junk, Discard };
  void finish(std::vector<Item>& out);
  void refuse(std::vector<Item>& out, const char* why);

  size_t max_bytes_;
  Mode mode_ = Mode::Idle;
  std::string buf_;
  int depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
};

}  // namespace rrvm::monitor
