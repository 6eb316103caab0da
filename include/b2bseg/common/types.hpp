// Attribute value types of the dataset format (SPEC 2.1) and the timestamp representation.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace b2bseg {

/// The most worker threads any b2bseg arena is given (options asking for more are clamped; the
/// command line refuses them). Far above any core count, low enough for oneTBB to start.
constexpr unsigned max_threads = 1024;

/// The type of an attribute. `string_list` is the SPEC's `string[]`.
enum class value_type : std::uint8_t { string, integer, floating, boolean, timestamp, string_list };

/// Timestamps are microseconds since 1970-01-01T00:00:00Z (UTC), as a signed 64-bit integer.
using timestamp_us = std::int64_t;

/// The SPEC spelling of a type: "string", "int", "float", "bool", "timestamp", "string[]".
constexpr std::string_view to_string(value_type t) noexcept {
  switch (t) {
    case value_type::string:
      return "string";
    case value_type::integer:
      return "int";
    case value_type::floating:
      return "float";
    case value_type::boolean:
      return "bool";
    case value_type::timestamp:
      return "timestamp";
    case value_type::string_list:
      return "string[]";
  }
  return "?";
}

/// Parses a SPEC type name; nullopt when it is not one.
constexpr std::optional<value_type> parse_value_type(std::string_view s) noexcept {
  if (s == "string") return value_type::string;
  if (s == "int") return value_type::integer;
  if (s == "float") return value_type::floating;
  if (s == "bool") return value_type::boolean;
  if (s == "timestamp") return value_type::timestamp;
  if (s == "string[]") return value_type::string_list;
  return std::nullopt;
}

/// True for types stored as numbers in a column (int, float, timestamp).
constexpr bool is_numeric(value_type t) noexcept {
  return t == value_type::integer || t == value_type::floating || t == value_type::timestamp;
}

/// True for types stored dictionary-encoded (string, string[]).
constexpr bool is_textual(value_type t) noexcept {
  return t == value_type::string || t == value_type::string_list;
}

}  // namespace b2bseg
