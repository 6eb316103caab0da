// Error types thrown by b2bseg: data errors (bad input, exit status 1) and compile errors (exit 2).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace b2bseg {

namespace detail {

/// `s` with every ASCII control byte (and DEL) written as `\xHH`, so that a message holding a
/// NUL, an escape sequence or a line break from user data prints whole and on one line. Tabs stay
/// when `keep_tabs`. O(size).
inline std::string escape_controls(std::string_view s, bool keep_tabs = false) {
  std::string out;
  out.reserve(s.size());
  static constexpr char hex[] = "0123456789abcdef";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && !(keep_tabs && c == '\t')) || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace detail

/// Base of every exception b2bseg throws on purpose. `what()` is the full, user-facing message.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Bad input data or an I/O failure: a missing file, a bad CSV value, a duplicate key, a dangling
/// link, a bad schema. The message names the file and, where there is one, the line and column,
/// as `FILE:LINE:COL: MESSAGE`. The command line maps it to exit status 1.
class data_error : public error {
 public:
  data_error(std::string file, std::size_t line, std::size_t column, const std::string& message)
      : error(format(file, line, column, message)),
        file_(std::move(file)),
        line_(line),
        column_(column) {}
  explicit data_error(const std::string& message) : error(detail::escape_controls(message)) {}

  const std::string& file() const noexcept { return file_; }
  std::size_t line() const noexcept { return line_; }      ///< 1-based; 0 when none
  std::size_t column() const noexcept { return column_; }  ///< 1-based; 0 when none

 private:
  static std::string format(const std::string& file, std::size_t line, std::size_t column,
                            const std::string& message) {
    std::string s = file;
    if (line) s += ":" + std::to_string(line);
    if (line && column) s += ":" + std::to_string(column);
    s += ": " + message;
    return detail::escape_controls(s);
  }
  std::string file_;
  std::size_t line_ = 0;
  std::size_t column_ = 0;
};

/// One diagnostic of a segments file, in the form the SPEC prescribes.
struct diagnostic {
  std::string file;
  std::size_t line = 0;     ///< 1-based
  std::size_t column = 0;   ///< 1-based, in bytes
  std::string message;      ///< without the `error: ` prefix
  std::string source_line;  ///< the text of that line, for the caret display
};

/// Renders `FILE:LINE:COL: error: MESSAGE`, the source line and a caret under the column.
/// Control bytes in the message and the line are escaped (`\x00`), the caret still under its
/// byte.
inline std::string render(const diagnostic& d) {
  std::string s = detail::escape_controls(d.file + ":" + std::to_string(d.line) + ":" +
                                          std::to_string(d.column) + ": error: " + d.message) +
                  "\n";
  if (!d.source_line.empty() || d.line) {
    s += "  " + detail::escape_controls(d.source_line, true) + "\n  ";
    for (std::size_t i = 1; i < d.column && i <= d.source_line.size(); ++i) {
      const auto c = static_cast<unsigned char>(d.source_line[i - 1]);
      if (c == '\t')
        s += '\t';
      else
        s.append(c < 0x20 || c == 0x7f ? 4 : 1, ' ');
    }
    s += "^\n";
  }
  return s;
}

/// A segments file that does not compile. Holds every diagnostic of the file; `what()` is all of
/// them rendered. The command line maps it to exit status 2.
class compile_error : public error {
 public:
  explicit compile_error(std::vector<diagnostic> diagnostics)
      : error(render_all(diagnostics)), diagnostics_(std::move(diagnostics)) {}
  const std::vector<diagnostic>& diagnostics() const noexcept { return diagnostics_; }

 private:
  static std::string render_all(const std::vector<diagnostic>& ds) {
    std::string s;
    for (const auto& d : ds) s += render(d);
    return s;
  }
  std::vector<diagnostic> diagnostics_;
};

}  // namespace b2bseg
