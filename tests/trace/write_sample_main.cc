// trace_write_sample PATH [REPEAT [CHUNK_BYTES]]: writes the sample trace (sample_trace.h). Used by
// the stock-tools test, to make fuzz seeds (fuzz/make_trace_seeds.sh), and to make
// data/v1-sample.rrtrace when the format version changes (see docs/trace-format.md).
#include <cstdio>
#include <cstdlib>

#include "tests/trace/sample_trace.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: %s PATH [REPEAT [CHUNK_BYTES]]\n", argv[0]);
    return 2;
  }
  rrvm::trace::RecorderOptions options{.path = argv[1]};
  int repeat = argc > 2 ? std::atoi(argv[2]) : 1;
  if (argc > 3) options.chunk_bytes = std::strtoull(argv[3], nullptr, 10);
  auto s = rrvm::trace::testing::write_sample_trace(options, repeat);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.error().describe().c_str());
    return 1;
  }
  return 0;
}
