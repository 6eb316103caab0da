// Test helper: runs the b2bseg command (or any shell command line) and collects its exit status
// and output.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace b2bseg::testing {

struct command_result {
  int status = -1;  ///< exit status; -1 when it did not exit normally
  std::string out;  ///< what it printed (stdout, and stderr unless redirected elsewhere)
};

/// Runs `b2bseg ARGS` through the shell; with `merge_stderr`, stderr joins the output.
inline command_result run_b2bseg(const std::string& args, bool merge_stderr = true) {
  const std::string cmd = std::string(B2BSEG_EXE) + " " + args + (merge_stderr ? " 2>&1" : "");
  command_result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace b2bseg::testing
