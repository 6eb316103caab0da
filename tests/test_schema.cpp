// Tests of the JSON reader (detail/json.hpp) and of schema.json parsing and validation.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "b2bseg/detail/json.hpp"
#include "b2bseg/storage/schema_json.hpp"

namespace {

using namespace b2bseg;
namespace json = b2bseg::detail::json;

struct place {
  std::size_t line = 0;
  std::size_t column = 0;
};

/// The 1-based line and column of the `nth` (0-based) occurrence of `needle` in `text`.
place place_of(std::string_view text, std::string_view needle, int nth = 0) {
  std::size_t at = text.find(needle);
  for (int i = 0; i < nth && at != std::string_view::npos; ++i) at = text.find(needle, at + 1);
  EXPECT_NE(at, std::string_view::npos) << "no " << needle;
  if (at == std::string_view::npos) return {};
  place p{1, 1};
  for (std::size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

/// Runs `f`, which must throw data_error at `file`:`line`:`column` with `message`.
template <class F>
void expect_data_error(F f, const std::string& file, place at, const std::string& message) {
  try {
    f();
    ADD_FAILURE() << "no error; expected: " << message;
  } catch (const data_error& e) {
    EXPECT_EQ(e.file(), file);
    EXPECT_EQ(e.line(), at.line) << e.what();
    EXPECT_EQ(e.column(), at.column) << e.what();
    std::string where = file;
    if (at.line) where += ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
    EXPECT_EQ(std::string(e.what()), where + ": " + message);
  }
}

void expect_schema_error(std::string_view text, place at, const std::string& message) {
  SCOPED_TRACE(std::string(text));
  expect_data_error([&] { parse_schema(text, "schema.json"); }, "schema.json", at, message);
}

void expect_json_error(std::string_view text, place at, const std::string& message) {
  SCOPED_TRACE(std::string(text));
  expect_data_error([&] { json::parse(text, "in.json"); }, "in.json", at,
                    "invalid JSON: " + message);
}

/// The example of SPEC 2.1, verbatim.
constexpr std::string_view spec_example = R"({
  "entities": {
    "account": {
      "file": "account.csv",
      "key": "account_id",
      "attributes": {
        "name": "string",
        "industry": "string",
        "employees": "int",
        "annual_revenue": "float",
        "is_customer": "bool",
        "created_at": "timestamp",
        "tags": "string[]"
      }
    },
    "person": {
      "file": "person.csv",
      "key": "person_id",
      "attributes": { "email": "string", "seniority": "string" },
      "links": {
        "account": { "column": "account_id", "to": "account", "reverse": "people" }
      }
    },
    "event": {
      "file": "event.csv",
      "attributes": { "type": "string", "timestamp": "timestamp" },
      "links": {
        "person": { "column": "person_id", "to": "person", "reverse": "events" }
      }
    }
  }
}
)";

// ------------------------------------------------------------------------------------------------
// JSON reader

TEST(Json, ParsesAllKindsWithPositions) {
  const std::string text = "{\"a\": [1, -2.5e3, true, false, null],\n  \"b\": {\"c\": \"x\"}}";
  json::value v = json::parse(text, "in.json");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.line, 1u);
  EXPECT_EQ(v.column, 1u);
  ASSERT_EQ(v.members.size(), 2u);
  EXPECT_EQ(v.members[0].key, "a");
  EXPECT_EQ(v.members[0].column, 2u);
  EXPECT_EQ(v.members[1].key, "b");
  EXPECT_EQ(v.members[1].line, 2u);
  EXPECT_EQ(v.members[1].column, 3u);
  const json::value& a = v.members[0].val;
  ASSERT_TRUE(a.is_array());
  EXPECT_EQ(a.column, 7u);
  ASSERT_EQ(a.items.size(), 5u);
  EXPECT_EQ(a.items[0].number, 1.0);
  EXPECT_EQ(a.items[0].as_int64(), 1);
  EXPECT_EQ(a.items[1].number, -2500.0);
  EXPECT_EQ(a.items[1].text, "-2.5e3");
  EXPECT_EQ(a.items[1].column, 11u);
  EXPECT_FALSE(a.items[1].as_int64());
  EXPECT_TRUE(a.items[2].is_boolean() && a.items[2].boolean);
  EXPECT_TRUE(a.items[3].is_boolean() && !a.items[3].boolean);
  EXPECT_TRUE(a.items[4].is_null());
  const json::value* c = v.members[1].val.find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->text, "x");
  EXPECT_EQ(c->line, 2u);
  EXPECT_EQ(c->column, 14u);
  EXPECT_EQ(v.find("zz"), nullptr);
}

TEST(Json, KeepsKeyOrder) {
  json::value v = json::parse(R"({"z": 1, "a": 2, "m": 3})", "in.json");
  ASSERT_EQ(v.members.size(), 3u);
  EXPECT_EQ(v.members[0].key, "z");
  EXPECT_EQ(v.members[1].key, "a");
  EXPECT_EQ(v.members[2].key, "m");
}

TEST(Json, DecodesEscapes) {
  json::value v =
      json::parse(R"("q\" b\\ s\/ \b\f\n\r\t \u0041\u00e9\u20AC \ud83d\ude00")", "in.json");
  EXPECT_EQ(v.text, "q\" b\\ s/ \b\f\n\r\t A\xC3\xA9\xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(json::parse(R"("\u0000")", "in.json").text, std::string(1, '\0'));
  // Raw UTF-8 passes through unchanged.
  EXPECT_EQ(json::parse("\"caf\xC3\xA9 \xF0\x9F\x98\x80\"", "in.json").text,
            "caf\xC3\xA9 \xF0\x9F\x98\x80");
}

TEST(Json, NumbersFollowTheGrammar) {
  EXPECT_EQ(json::parse("0", "in.json").number, 0.0);
  EXPECT_EQ(json::parse("-0.5", "in.json").number, -0.5);
  EXPECT_EQ(json::parse("1E+2", "in.json").number, 100.0);
  EXPECT_EQ(json::parse("9223372036854775807", "in.json").as_int64(), INT64_C(9223372036854775807));
  EXPECT_FALSE(json::parse("9223372036854775808", "in.json").as_int64());
  EXPECT_EQ(json::parse("1e-400", "in.json").number, 0.0);
  EXPECT_EQ(json::parse("0.000000000000000000001e-400", "in.json").number, 0.0);
  expect_json_error("01", {1, 1}, "invalid number '01'");
  expect_json_error("[1.]", {1, 2}, "invalid number '1.'");
  expect_json_error("-", {1, 1}, "invalid number '-'");
  expect_json_error("1e", {1, 1}, "invalid number '1e'");
  expect_json_error("[1-2]", {1, 2}, "invalid number '1-2'");
  expect_json_error("12abc", {1, 1}, "invalid number '12'");
  expect_json_error("+1", {1, 1}, "unexpected '+' (expected a value)");
  expect_json_error(".5", {1, 1}, "unexpected '.' (expected a value)");
  expect_json_error("[1e400]", {1, 2}, "number out of range '1e400'");
  expect_json_error("-Infinity", {1, 1}, "invalid number '-'");
  expect_json_error("NaN", {1, 1}, "unexpected 'NaN' (expected a value)");
}

TEST(Json, SkipsByteOrderMark) {
  json::value v = json::parse("\xEF\xBB\xBF{\"a\": 1}", "in.json");
  EXPECT_EQ(v.column, 1u);
  EXPECT_EQ(v.members.at(0).val.column, 7u);
}

TEST(Json, CountsLinesAcrossCrLf) {
  expect_json_error("{\r\n  \"a\": 1,\r\n  \"b\" 2}", {3, 7},
                    "unexpected '2' (expected ':' after a key)");
}

TEST(Json, SyntaxErrors) {
  expect_json_error(R"({"a": 1,})", {1, 8}, "trailing comma");
  expect_json_error("[1, 2,\n ]", {1, 6}, "trailing comma");
  expect_json_error(R"({"a": "abc)", {1, 7}, "unterminated string");
  expect_json_error("{\"a\": \"abc\n\"}", {1, 7}, "unterminated string");
  expect_json_error(R"(["abc\)", {1, 2}, "unterminated string");
  expect_json_error(R"(["a\qb"])", {1, 4}, "invalid escape '\\q'");
  expect_json_error(R"(["a\u12G4"])", {1, 4}, "invalid \\u escape (expected 4 hex digits)");
  expect_json_error(R"(["\ud83d x"])", {1, 3}, "unpaired surrogate \\ud83d");
  expect_json_error(R"(["\ud83d\u0041"])", {1, 3}, "unpaired surrogate \\ud83d");
  expect_json_error(R"(["\ude00"])", {1, 3}, "unpaired surrogate \\ude00");
  expect_json_error("[\"a\tb\"]", {1, 4}, "unescaped control character 0x09 in a string");
  expect_json_error("[\"a\xC3\"]", {1, 4}, "invalid UTF-8 in a string (byte 0xC3)");
  expect_json_error("[\"\xC0\xAF\"]", {1, 3}, "invalid UTF-8 in a string (byte 0xC0)");
  expect_json_error("[\"\xED\xA0\x80\"]", {1, 3}, "invalid UTF-8 in a string (byte 0xED)");
  expect_json_error("[\"\xF4\x90\x80\x80\"]", {1, 3}, "invalid UTF-8 in a string (byte 0xF4)");
  expect_json_error(R"({"a" 1})", {1, 6}, "unexpected '1' (expected ':' after a key)");
  expect_json_error(R"({"a": 1 "b": 2})", {1, 9},
                    "unexpected '\"' (expected ',' or '}' after a member)");
  expect_json_error(R"([1 2])", {1, 4}, "unexpected '2' (expected ',' or ']' after an element)");
  expect_json_error(R"({a: 1})", {1, 2}, "unexpected 'a' (expected a string key)");
  expect_json_error(R"({"a": tru})", {1, 7}, "unexpected 'tru' (expected a value)");
  expect_json_error(R"([truex])", {1, 2}, "unexpected 'truex' (expected a value)");
  expect_json_error("{\"a\": 1}\n}", {2, 1}, "unexpected '}' after the end of the document");
  expect_json_error("{\"a\": [1,\n  2", {2, 4},
                    "unexpected end of input ('[' at line 1, column 7 is not closed)");
  expect_json_error("{\"a\": ", {1, 7}, "unexpected end of input (expected a value)");
  expect_json_error("{\"a\"", {1, 5},
                    "unexpected end of input ('{' at line 1, column 1 is not closed)");
  expect_json_error(R"({"a": 1, "b": 2, "a": 3})", {1, 18}, "duplicate key 'a'");
  expect_json_error("[\x01]", {1, 2}, "unexpected byte 0x01 (expected a value)");
  expect_json_error("// comment\n{}", {1, 1}, "unexpected '/' (expected a value)");
}

TEST(Json, EmptyInput) {
  expect_json_error("", {1, 1}, "empty input");
  expect_json_error("  \n  ", {2, 3}, "empty input");
  expect_json_error("\xEF\xBB\xBF", {1, 1}, "empty input");
}

TEST(Json, LimitsNesting) {
  std::string ok = std::string(256, '[') + std::string(256, ']');
  EXPECT_NO_THROW(json::parse(ok, "in.json"));
  std::string deep = std::string(257, '[') + std::string(257, ']');
  expect_json_error(deep, {1, 257}, "nesting deeper than 256 levels");
  // Far deeper hostile input fails just as cleanly, without recursing further.
  std::string hostile(1 << 20, '[');
  expect_json_error(hostile, {1, 257}, "nesting deeper than 256 levels");
  std::string objects;
  for (int i = 0; i < 300; ++i) objects += "{\"a\":";
  expect_json_error(objects, {1, 256 * 5 + 1}, "nesting deeper than 256 levels");
  EXPECT_NO_THROW(json::parse("[[[1]]]", "in.json", 3));
  expect_data_error([] { json::parse("[[[[1]]]]", "in.json", 3); }, "in.json", {1, 4},
                    "invalid JSON: nesting deeper than 3 levels");
}

// ------------------------------------------------------------------------------------------------
// Valid schemas

TEST(Schema, ParsesSpecExample) {
  schema s = parse_schema(spec_example, "schema.json");
  ASSERT_EQ(s.entities.size(), 3u);
  const entity_def& account = s.entities[0];
  const entity_def& person = s.entities[1];
  const entity_def& event = s.entities[2];
  EXPECT_EQ(account.name, "account");
  EXPECT_EQ(person.name, "person");
  EXPECT_EQ(event.name, "event");
  EXPECT_EQ(s.find_entity("event"), 2u);

  EXPECT_EQ(account.file, "account.csv");
  EXPECT_EQ(account.key, "account_id");
  ASSERT_EQ(account.attributes.size(), 7u);
  const std::pair<const char*, value_type> expected[] = {
      {"name", value_type::string},         {"industry", value_type::string},
      {"employees", value_type::integer},   {"annual_revenue", value_type::floating},
      {"is_customer", value_type::boolean}, {"created_at", value_type::timestamp},
      {"tags", value_type::string_list}};
  for (std::size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(account.attributes[i].name, expected[i].first);
    EXPECT_EQ(account.attributes[i].column, expected[i].first);
    EXPECT_EQ(account.attributes[i].type, expected[i].second);
  }
  EXPECT_TRUE(account.links.empty());

  EXPECT_EQ(person.file, "person.csv");
  EXPECT_EQ(person.key, "person_id");
  ASSERT_EQ(person.attributes.size(), 2u);
  EXPECT_EQ(person.attributes[1].name, "seniority");
  ASSERT_EQ(person.links.size(), 1u);
  EXPECT_EQ(person.links[0].name, "account");
  EXPECT_EQ(person.links[0].column, "account_id");
  EXPECT_EQ(person.links[0].to, "account");
  EXPECT_EQ(person.links[0].reverse, "people");
  EXPECT_EQ(person.links[0].target, 0u);

  EXPECT_EQ(event.file, "event.csv");
  EXPECT_FALSE(event.key.has_value());
  ASSERT_EQ(event.links.size(), 1u);
  EXPECT_EQ(event.links[0].target, 1u);

  ASSERT_EQ(account.reverses.size(), 1u);
  EXPECT_EQ(account.reverses[0].name, "people");
  EXPECT_EQ(account.reverses[0].source, 1u);
  EXPECT_EQ(account.reverses[0].link, 0u);
  ASSERT_EQ(person.reverses.size(), 1u);
  EXPECT_EQ(person.reverses[0].name, "events");
  EXPECT_EQ(person.reverses[0].source, 2u);
  EXPECT_EQ(person.reverses[0].link, 0u);
  EXPECT_TRUE(event.reverses.empty());
  EXPECT_EQ(account.find_reverse("people"), 0);
}

TEST(Schema, AttributeWithTypeAndColumn) {
  schema s = parse_schema(R"({"entities": {"account": {"attributes": {
      "industry": {"type": "string", "column": "Industry"},
      "employees": {"column": "No. of Employees", "type": "int"},
      "tier": {"type": "string"}}}}})",
                          "schema.json");
  const entity_def& a = s.entities.at(0);
  ASSERT_EQ(a.attributes.size(), 3u);
  EXPECT_EQ(a.attributes[0].name, "industry");
  EXPECT_EQ(a.attributes[0].column, "Industry");
  EXPECT_EQ(a.attributes[0].type, value_type::string);
  EXPECT_EQ(a.attributes[1].column, "No. of Employees");
  EXPECT_EQ(a.attributes[1].type, value_type::integer);
  EXPECT_EQ(a.attributes[2].column, "tier");
}

TEST(Schema, FileDefaultsToEntityNameAndKeyIsOptional) {
  schema s =
      parse_schema(R"({"entities": {"campaign": {}, "list": {"key": "List ID"}}})", "schema.json");
  ASSERT_EQ(s.entities.size(), 2u);
  EXPECT_EQ(s.entities[0].file, "campaign.csv");
  EXPECT_FALSE(s.entities[0].key);
  EXPECT_TRUE(s.entities[0].attributes.empty());
  EXPECT_EQ(s.entities[1].file, "list.csv");
  EXPECT_EQ(s.entities[1].key, "List ID");
}

TEST(Schema, LinkWithoutReverse) {
  schema s = parse_schema(R"({"entities": {
      "account": {"key": "id"},
      "person": {"links": {"account": {"column": "account_id", "to": "account"}}}}})",
                          "schema.json");
  EXPECT_EQ(s.entities[1].links.at(0).target, 0u);
  EXPECT_EQ(s.entities[1].links[0].reverse, "");
  EXPECT_TRUE(s.entities[0].reverses.empty());
}

TEST(Schema, SelfLink) {
  schema s = parse_schema(R"({"entities": {"account": {"key": "account_id",
      "attributes": {"name": "string"},
      "links": {"parent": {"column": "parent_id", "to": "account", "reverse": "subsidiaries"}}}}})",
                          "schema.json");
  const entity_def& a = s.entities.at(0);
  ASSERT_EQ(a.links.size(), 1u);
  EXPECT_EQ(a.links[0].target, 0u);
  ASSERT_EQ(a.reverses.size(), 1u);
  EXPECT_EQ(a.reverses[0].name, "subsidiaries");
  EXPECT_EQ(a.reverses[0].source, 0u);
  EXPECT_EQ(a.reverses[0].link, 0u);
}

TEST(Schema, ReversesInSchemaOrderOfSourcesAndLinks) {
  schema s = parse_schema(R"({"entities": {
      "opportunity": {"key": "id"},
      "person": {"key": "id"},
      "role": {"links": {
          "opportunity": {"column": "opportunity_id", "to": "opportunity", "reverse": "roles"},
          "person": {"column": "person_id", "to": "person", "reverse": "opportunity_roles"}}},
      "activity": {"links": {
          "person": {"column": "person_id", "to": "person", "reverse": "activities"},
          "owner": {"column": "owner_id", "to": "person", "reverse": "owned_activities"},
          "deal": {"column": "opportunity_id", "to": "opportunity"}}}}})",
                          "schema.json");
  const entity_def& person = s.entities.at(1);
  ASSERT_EQ(person.reverses.size(), 3u);
  EXPECT_EQ(person.reverses[0].name, "opportunity_roles");
  EXPECT_EQ(person.reverses[0].source, 2u);
  EXPECT_EQ(person.reverses[0].link, 1u);
  EXPECT_EQ(person.reverses[1].name, "activities");
  EXPECT_EQ(person.reverses[1].source, 3u);
  EXPECT_EQ(person.reverses[1].link, 0u);
  EXPECT_EQ(person.reverses[2].name, "owned_activities");
  EXPECT_EQ(person.reverses[2].link, 1u);
  ASSERT_EQ(s.entities[0].reverses.size(), 1u);
  EXPECT_EQ(s.entities[0].reverses[0].name, "roles");
}

TEST(Schema, SameReverseNameOnDifferentEntitiesIsFine) {
  EXPECT_NO_THROW(parse_schema(R"({"entities": {"a": {"key": "id"}, "b": {"key": "id"},
      "x": {"links": {"a": {"column": "a", "to": "a", "reverse": "xs"},
                      "b": {"column": "b", "to": "b", "reverse": "xs"}}}}})",
                               "schema.json"));
}

// ------------------------------------------------------------------------------------------------
// Schema errors: each with its message and the place of the offending value

TEST(SchemaErrors, UnknownMembers) {
  std::string t = R"({"entities": {"person": {"atributes": {}}}})";
  expect_schema_error(t, place_of(t, "\"atributes\""),
                      "unknown member 'atributes' in entity 'person'; did you mean 'attributes'?");
  t = R"({"entities": {"person": {"flie": "p.csv"}}})";
  expect_schema_error(t, place_of(t, "\"flie\""),
                      "unknown member 'flie' in entity 'person'; did you mean 'file'?");
  t = R"({"entities": {"person": {"primary": "id"}}})";
  expect_schema_error(t, place_of(t, "\"primary\""),
                      "unknown member 'primary' in entity 'person' (expected 'file', 'key', "
                      "'attributes', 'links', 'identities', 'merge', 'sources' or "
                      "'max_rows_per_profile')");
  t = R"({"entity": {}})";
  expect_schema_error(
      t, place_of(t, "\"entity\""),
      "unknown member 'entity' at the top level (expected 'entities' or 'partition')");
  t = R"({"entities": {"a": {}}, "version": 2})";
  expect_schema_error(
      t, place_of(t, "\"version\""),
      "unknown member 'version' at the top level (expected 'entities' or 'partition')");
  t = R"({"entities": {"a": {"attributes": {"x": {"type": "int", "colum": "X"}}}}})";
  expect_schema_error(t, place_of(t, "\"colum\""),
                      "unknown member 'colum' in attribute 'x' of entity 'a'; did you mean "
                      "'column'?");
  t = R"({"entities": {"a": {"links": {"b": {"column": "b", "to": "a", "revers": "bs"}}}}})";
  expect_schema_error(t, place_of(t, "\"revers\""),
                      "unknown member 'revers' in link 'a.b'; did you mean 'reverse'?");
}

TEST(SchemaErrors, Shape) {
  expect_schema_error("[]", {1, 1}, "schema must be a JSON object, not array");
  expect_schema_error("{}", {1, 1}, "schema has no 'entities' member");
  std::string t = R"({"entities": []})";
  expect_schema_error(t, place_of(t, "[]"), "'entities' must be an object, not array");
  t = R"({"entities": {}})";
  expect_schema_error(t, place_of(t, "{}"), "schema has no entities");
  t = R"({"entities": {"a": "a.csv"}})";
  expect_schema_error(t, place_of(t, "\"a.csv\""), "entity 'a' must be an object, not string");
  t = R"({"entities": {"a": {"file": 3}}})";
  expect_schema_error(t, place_of(t, "3"), "'file' of entity 'a' must be a string, not number");
  t = R"({"entities": {"a": {"file": ""}}})";
  expect_schema_error(t, place_of(t, "\"\""), "'file' of entity 'a' must not be empty");
  t = R"({"entities": {"a": {"key": null}}})";
  expect_schema_error(t, place_of(t, "null"), "'key' of entity 'a' must be a string, not null");
  t = R"({"entities": {"a": {"attributes": ["x"]}}})";
  expect_schema_error(t, place_of(t, "["),
                      "'attributes' of entity 'a' must be an object, not array");
  t = R"({"entities": {"a": {"links": "b"}}})";
  expect_schema_error(t, place_of(t, "\"b\""),
                      "'links' of entity 'a' must be an object, not string");
  t = R"({"entities": {"a": {"attributes": {"x": 1}}}})";
  expect_schema_error(t, place_of(t, "1"),
                      "attribute 'x' of entity 'a' must be a type name or an object "
                      "{\"type\": ..., \"column\": ...}, not number");
  t = R"({"entities": {"a": {"attributes": {"x": {"column": "X"}}}}})";
  expect_schema_error(t, place_of(t, "{\"column\""), "attribute 'x' of entity 'a' has no 'type'");
  t = R"({"entities": {"a": {"attributes": {"x": {"type": ["int"]}}}}})";
  expect_schema_error(t, place_of(t, "[\"int\"]"),
                      "'type' of attribute 'x' of entity 'a' must be a string, not array");
  t = R"({"entities": {"a": {"attributes": {"x": {"type": "int", "column": ""}}}}})";
  expect_schema_error(t, place_of(t, "\"\""),
                      "'column' of attribute 'x' of entity 'a' must not be empty");
  t = R"({"entities": {"a": {"links": {"b": "a"}}}})";
  expect_schema_error(t, place_of(t, "\"a\"", 1),
                      "link 'a.b' must be an object {\"column\": ..., \"to\": ..., \"reverse\": "
                      "...}, not string");
  t = R"({"entities": {"a": {"links": {"b": {"to": "a"}}}}})";
  expect_schema_error(t, place_of(t, "{\"to\""), "link 'a.b' has no 'column'");
  t = R"({"entities": {"a": {"links": {"b": {"column": "b_id"}}}}})";
  expect_schema_error(t, place_of(t, "{\"column\""), "link 'a.b' has no 'to'");
  t = R"({"entities": {"a": {"links": {"b": {"column": "b_id", "to": "a", "reverse": 7}}}}})";
  expect_schema_error(t, place_of(t, "7"), "'reverse' of link 'a.b' must be a string, not number");
  t = R"({"entities": {"a": {"key": "\u0000"}}})";
  expect_schema_error(t, place_of(t, "\"\\u"),
                      "'key' of entity 'a' must not contain a NUL character");
}

TEST(SchemaErrors, BadIdentifiers) {
  std::string t = R"({"entities": {"1person": {}}})";
  expect_schema_error(t, place_of(t, "\"1person\""),
                      "invalid entity name '1person' (expected [A-Za-z_][A-Za-z0-9_]*)");
  t = R"({"entities": {"": {}}})";
  expect_schema_error(t, place_of(t, "\"\""),
                      "invalid entity name '' (expected [A-Za-z_][A-Za-z0-9_]*)");
  t = R"({"entities": {"person": {"attributes": {"first name": "string"}}}})";
  expect_schema_error(t, place_of(t, "\"first name\""),
                      "invalid attribute name 'first name' in entity 'person' (expected "
                      "[A-Za-z_][A-Za-z0-9_]*)");
  t = R"({"entities": {"person": {"links": {"my-account": {"column": "a", "to": "person"}}}}})";
  expect_schema_error(t, place_of(t, "\"my-account\""),
                      "invalid link name 'my-account' in entity 'person' (expected "
                      "[A-Za-z_][A-Za-z0-9_]*)");
  t = R"({"entities": {"person": {"links": {"boss": {"column": "b", "to": "person", "reverse": "direct reports"}}}}})";
  expect_schema_error(t, place_of(t, "\"direct reports\""),
                      "invalid reverse name 'direct reports' of link 'person.boss' (expected "
                      "[A-Za-z_][A-Za-z0-9_]*)");
  t = R"({"entities": {"person": {"links": {"boss": {"column": "b", "to": "person", "reverse": ""}}}}})";
  expect_schema_error(t, place_of(t, "\"\""),
                      "invalid reverse name '' of link 'person.boss' (expected "
                      "[A-Za-z_][A-Za-z0-9_]*)");
  t = R"({"entities": {"a\tb": {}}})";
  expect_schema_error(t, place_of(t, "\"a\\t"),
                      "invalid entity name 'a\\x09b' (expected [A-Za-z_][A-Za-z0-9_]*)");
}

TEST(SchemaErrors, UnknownType) {
  std::string t = R"({"entities": {"account": {"attributes": {
    "name": "string",
    "employees": "integer"}}}})";
  expect_schema_error(t, {3, 18},
                      "unknown type 'integer' for attribute 'employees' (expected string, int, "
                      "float, bool, timestamp or string[])");
  t = R"({"entities": {"account": {"attributes": {"tags": {"type": "string[ ]"}}}}})";
  expect_schema_error(t, place_of(t, "\"string[ ]\""),
                      "unknown type 'string[ ]' for attribute 'tags' (expected string, int, "
                      "float, bool, timestamp or string[])");
}

TEST(SchemaErrors, LinkToUnknownEntity) {
  std::string t = R"({"entities": {
  "account": {},
  "person": {"links": {"account": {"column": "account_id", "to": "acount"}}}}})";
  expect_schema_error(t, {3, 66},
                      "link 'person.account' points to unknown entity 'acount'; did you mean "
                      "'account'?");
  t = R"({"entities": {"person": {"links": {"org": {"column": "org_id", "to": "organization"}}}}})";
  expect_schema_error(t, place_of(t, "\"organization\""),
                      "link 'person.org' points to unknown entity 'organization'");
}

TEST(SchemaErrors, AttributeAndLinkClash) {
  std::string t = R"({"entities": {"account": {},
    "person": {"attributes": {"account": "string"},
               "links": {"account": {"column": "account_id", "to": "account"}}}}})";
  expect_schema_error(t, place_of(t, "\"account\"", 2),
                      "name 'account' is both an attribute and a link in entity 'person'");
  // The later of the two is flagged, whichever block comes first.
  t = R"({"entities": {"account": {},
    "person": {"links": {"account": {"column": "account_id", "to": "account"}},
               "attributes": {"account": "string"}}}})";
  expect_schema_error(t, place_of(t, "\"account\"", 3),
                      "name 'account' is both an attribute and a link in entity 'person'");
}

TEST(SchemaErrors, ReverseClashesWithAttribute) {
  std::string t = R"({"entities": {
  "account": {"key": "id", "attributes": {"people": "int"}},
  "person": {"links": {"account": {"column": "account_id", "to": "account", "reverse": "people"}}}}})";
  expect_schema_error(t, {3, 88},
                      "reverse 'people' of link 'person.account' clashes with attribute 'people' "
                      "of entity 'account'");
}

TEST(SchemaErrors, ReverseClashesWithLink) {
  std::string t = R"({"entities": {"account": {"key": "id", "links": {
    "parent": {"column": "parent_id", "to": "account", "reverse": "parent"}}}}})";
  expect_schema_error(t, place_of(t, "\"parent\"", 1),
                      "reverse 'parent' of link 'account.parent' clashes with link 'parent' of "
                      "entity 'account'");
}

TEST(SchemaErrors, LinkToAnEntityWithoutKey) {
  std::string t = R"({"entities": {"event": {},
  "person": {"key": "id", "links": {"last": {"column": "e", "to": "event"}}}}})";
  expect_schema_error(t, place_of(t, "\"event\"", 1),
                      "link 'person.last' points to entity 'event', which has no \"key\": a "
                      "link's column holds the key of the row it points to");
}

TEST(SchemaErrors, TwoReversesWithTheSameName) {
  std::string t = R"({"entities": {
  "account": {"key": "id"},
  "person": {"links": {"account": {"column": "account_id", "to": "account", "reverse": "people"}}},
  "contact": {"links": {"account": {"column": "account_id", "to": "account", "reverse": "people"}}}}})";
  expect_schema_error(t, {4, 89},
                      "reverse 'people' of link 'contact.account' clashes with reverse 'people' "
                      "of link 'person.account' on entity 'account'");
  t = R"({"entities": {"person": {"key": "id", "links": {
    "manager": {"column": "m", "to": "person", "reverse": "reports"},
    "mentor": {"column": "n", "to": "person", "reverse": "reports"}}}}})";
  expect_schema_error(t, place_of(t, "\"reports\"", 1),
                      "reverse 'reports' of link 'person.mentor' clashes with reverse 'reports' "
                      "of link 'person.manager' on entity 'person'");
}

TEST(SchemaErrors, DuplicateKeysAreJsonErrors) {
  std::string t = R"({"entities": {"a": {}, "a": {}}})";
  expect_schema_error(t, place_of(t, "\"a\"", 1), "invalid JSON: duplicate key 'a'");
  t = R"({"entities": {"a": {"attributes": {"x": "int", "x": "float"}}}})";
  expect_schema_error(t, place_of(t, "\"x\"", 1), "invalid JSON: duplicate key 'x'");
}

TEST(SchemaErrors, JsonSyntax) {
  std::string t = "{\"entities\": {\n  \"a\": {},\n}}";
  expect_schema_error(t, {2, 10}, "invalid JSON: trailing comma");
  t = "{\"entities\": {\"a\": {\"file\": \"a.csv}}}";
  expect_schema_error(t, place_of(t, "\"a.csv"), "invalid JSON: unterminated string");
  t = R"({"entities": {"a": {"file": "a\x.csv"}}})";
  expect_schema_error(t, place_of(t, "\\x"), "invalid JSON: invalid escape '\\x'");
  std::string deep = "{\"entities\": " + std::string(1000, '[');
  expect_schema_error(deep, {1, 14 + 255}, "invalid JSON: nesting deeper than 256 levels");
  expect_schema_error("entities:\n  account: {}", {1, 1},
                      "invalid JSON: unexpected 'entities' (expected a value)");
  expect_schema_error("account,file,key\n", {1, 1},
                      "invalid JSON: unexpected 'account' (expected a value)");
  expect_schema_error("\x89PNG\r\n", {1, 1},
                      "invalid JSON: unexpected byte 0x89 (expected a value)");
  expect_schema_error("", {1, 1}, "invalid JSON: empty input");
  expect_schema_error(" \n", {2, 1}, "invalid JSON: empty input");
}

// ------------------------------------------------------------------------------------------------
// Schemas built in code

schema code_schema() {
  schema s;
  entity_def account;
  account.name = "account";
  account.key = "account_id";
  account.attributes.push_back({"industry", value_type::string, "Industry"});
  account.attributes.push_back({"employees", value_type::integer, ""});
  account.links.push_back({"parent", "parent_id", "account", "subsidiaries"});
  entity_def person;
  person.name = "person";
  person.file = "people.csv";
  person.links.push_back({"account", "account_id", "account", "people"});
  s.entities.push_back(account);
  s.entities.push_back(person);
  return s;
}

TEST(ValidateSchema, FillsDefaultsTargetsAndReverses) {
  schema s = code_schema();
  validate_schema(s);
  EXPECT_EQ(s.entities[0].file, "account.csv");
  EXPECT_EQ(s.entities[1].file, "people.csv");
  EXPECT_EQ(s.entities[0].attributes[0].column, "Industry");
  EXPECT_EQ(s.entities[0].attributes[1].column, "employees");
  EXPECT_EQ(s.entities[0].links[0].target, 0u);
  EXPECT_EQ(s.entities[1].links[0].target, 0u);
  ASSERT_EQ(s.entities[0].reverses.size(), 2u);
  EXPECT_EQ(s.entities[0].reverses[0].name, "subsidiaries");
  EXPECT_EQ(s.entities[0].reverses[0].source, 0u);
  EXPECT_EQ(s.entities[0].reverses[1].name, "people");
  EXPECT_EQ(s.entities[0].reverses[1].source, 1u);
  EXPECT_EQ(s.entities[0].reverses[1].link, 0u);
  // Validating again rebuilds rather than appends.
  validate_schema(s);
  EXPECT_EQ(s.entities[0].reverses.size(), 2u);
  EXPECT_TRUE(s.entities[1].reverses.empty());
}

TEST(ValidateSchema, ErrorsNameTheOriginWithoutLine) {
  auto expect = [](schema s, const std::string& message) {
    expect_data_error([&] { validate_schema(s, "generator"); }, "generator", {}, message);
  };
  expect(schema{}, "schema has no entities");
  schema s = code_schema();
  s.entities[1].name = "per son";
  expect(s, "invalid entity name 'per son' (expected [A-Za-z_][A-Za-z0-9_]*)");
  s = code_schema();
  s.entities[1].name = "account";
  expect(s, "duplicate entity 'account'");
  s = code_schema();
  s.entities[0].attributes[1].name = "industry";
  expect(s, "duplicate attribute 'industry' in entity 'account'");
  s = code_schema();
  s.entities[0].links.push_back(s.entities[0].links[0]);
  expect(s, "duplicate link 'parent' in entity 'account'");
  s = code_schema();
  s.entities[0].links[0].name = "industry";
  expect(s, "name 'industry' is both an attribute and a link in entity 'account'");
  s = code_schema();
  s.entities[1].links[0].column = "";
  expect(s, "link 'person.account' has no column");
  s = code_schema();
  s.entities[1].key = "";
  expect(s, "'key' of entity 'person' must not be empty");
  s = code_schema();
  s.entities[1].links[0].to = "acount";
  expect(s, "link 'person.account' points to unknown entity 'acount'; did you mean 'account'?");
  s = code_schema();
  s.entities[1].links[0].reverse = "subsidiaries";
  expect(s,
         "reverse 'subsidiaries' of link 'person.account' clashes with reverse 'subsidiaries' of "
         "link 'account.parent' on entity 'account'");
  s = code_schema();
  s.entities[1].links[0].reverse = "employees";
  expect(s,
         "reverse 'employees' of link 'person.account' clashes with attribute 'employees' of "
         "entity 'account'");
  expect_data_error(
      [] {
        schema e;
        validate_schema(e);
      },
      "schema", {}, "schema has no entities");
}

// ------------------------------------------------------------------------------------------------
// Files

TEST(ReadSchema, ReadsFileAndReportsMissingOne) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(B2BSEG_TEST_TMP) / "test_schema";
  fs::create_directories(dir);
  const std::string path = (dir / "schema.json").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << spec_example;
  }
  schema s = read_schema(path);
  EXPECT_EQ(s.entities.size(), 3u);

  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "{\"entities\": {\n  \"a\": {\"atributes\": {}}}}";
  }
  expect_data_error([&] { read_schema(path); }, path, {2, 9},
                    "unknown member 'atributes' in entity 'a'; did you mean 'attributes'?");

  const std::string missing = (dir / "no-such-schema.json").string();
  try {
    read_schema(missing);
    ADD_FAILURE() << "no error";
  } catch (const data_error& e) {
    EXPECT_EQ(e.file(), missing);
    EXPECT_EQ(e.line(), 0u);
    EXPECT_EQ(std::string(e.what()), missing + ": cannot open: No such file or directory");
  }
  expect_data_error([&] { read_schema(dir.string()); }, dir.string(), {},
                    "cannot read: Is a directory");
}

TEST(ParseSchema, SpecExampleIsStableAcrossRepeatedParses) {
  schema a = parse_schema(spec_example, "schema.json");
  schema b = parse_schema(spec_example, "schema.json");
  validate_schema(b);
  ASSERT_EQ(a.entities.size(), b.entities.size());
  for (std::size_t i = 0; i < a.entities.size(); ++i) {
    EXPECT_EQ(a.entities[i].reverses.size(), b.entities[i].reverses.size());
    for (std::size_t j = 0; j < a.entities[i].reverses.size(); ++j)
      EXPECT_EQ(a.entities[i].reverses[j].name, b.entities[i].reverses[j].name);
  }
}

}  // namespace

// --- SPEC 2.3: sources, identities, merge ------------------------------------------------------

namespace {

/// A schema with a resolved person; `person_extra` is spliced into the person object and
/// `source_extra` into its first source.
std::string sources_schema(const std::string& person_extra = "",
                           const std::string& source_extra = "",
                           const std::string& event_link_extra = "") {
  return R"J({"entities": {
  "account": {"key": "account_id", "attributes": {"name": "string"}},
  "person": {"key": "person_id",
    "identities": {"sfdc_id": "exact", "email": "email"},
    "attributes": {"email": "string", "score": "int"},
    "links": {"account": {"to": "account", "reverse": "people"}},)J" +
         person_extra + R"J(
    "sources": [
      {"name": "crm", "file": "crm.csv", "identities": {"sfdc_id": "Id", "email": "Email"},
       "attributes": {"email": "Email"}, "links": {"account": "AccountId"})J" +
         source_extra + R"J(},
      {"name": "mkto", "file": "mkto.csv", "identities": {"email": "email"},
       "attributes": {"score": "score"}, "updated_at": "updatedAt"}]},
  "event": {"attributes": {"type": "string"},
    "links": {"person": {"column": "lead", "to": "person")J" +
         event_link_extra + R"J(}}}
}})J";
}

}  // namespace

TEST(SchemaSources, ParsesSourcesIdentitiesAndMerge) {
  const b2bseg::schema s =
      b2bseg::parse_schema(sources_schema("\"merge\": \"latest\", \"max_rows_per_profile\": 7,", "",
                                          ", \"identity\": \"email\""),
                           "schema.json");
  const auto& p = s.entities[1];
  ASSERT_TRUE(p.resolved());
  EXPECT_TRUE(p.file.empty());
  EXPECT_EQ(p.merge, b2bseg::merge_policy::latest);
  EXPECT_EQ(p.max_rows_per_profile, 7u);
  ASSERT_EQ(p.identities.size(), 2u);
  EXPECT_EQ(p.identities[1].rule, b2bseg::identity_rule::email);
  ASSERT_EQ(p.sources.size(), 2u);
  EXPECT_EQ(p.sources[0].identities[1].index, 1u);
  EXPECT_EQ(p.sources[0].links[0].column, "AccountId");
  EXPECT_EQ(p.sources[1].attributes[0].index, 1u);
  EXPECT_EQ(p.sources[1].updated_at, "updatedAt");
  EXPECT_EQ(s.entities[2].links[0].identity_index, 1u);
  EXPECT_FALSE(s.entities[0].resolved());
  EXPECT_EQ(s.entities[0].file, "account.csv");
}

TEST(SchemaSources, ErrorsNameTheEntryWithAHint) {
  auto error_of = [](const std::string& text) {
    try {
      b2bseg::parse_schema(text, "schema.json");
    } catch (const b2bseg::data_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto has = [](const std::string& got, const std::string& want) {
    return got.find(want) != std::string::npos;
  };
  std::string e = error_of(sources_schema("\"merge\": \"newest\","));
  EXPECT_TRUE(has(e, "unknown merge policy 'newest' of entity 'person'")) << e;
  e = error_of(sources_schema("", "", ", \"identity\": \"nope\""));
  EXPECT_TRUE(has(e, "link 'event.person' names unknown namespace 'nope' of entity 'person'")) << e;
  e = error_of(sources_schema("", "", ", \"identity\": \"emial\""));
  EXPECT_TRUE(has(e, "did you mean 'email'?")) << e;
  std::string text = sources_schema();
  text.replace(text.find("{\"email\": \"email\"}"), 18, "{\"sfdc\": \"email\"}");
  e = error_of(text);
  EXPECT_TRUE(has(e, "maps unknown identity 'sfdc'")) << e;
  e = error_of(sources_schema("\"file\": \"p.csv\","));
  EXPECT_TRUE(has(e, "has both 'file' and 'sources'")) << e;
  e = error_of(sources_schema("\"max_rows_per_profile\": 0,"));
  EXPECT_TRUE(has(e, "must be a whole number from 1")) << e;
  // A link naming a namespace of an entity without identities.
  e = error_of(R"J({"entities": {"a": {"key": "id"},
    "b": {"links": {"a": {"column": "x", "to": "a", "identity": "email"}}}}})J");
  EXPECT_TRUE(has(e, "has no identities")) << e;
  // Identities without sources; a source without identity; a resolved entity without key.
  e = error_of(R"J({"entities": {"a": {"key": "id", "identities": {"x": "exact"}}}})J");
  EXPECT_TRUE(has(e, "has 'identities' but no 'sources'")) << e;
  e = error_of(R"J({"entities": {"a": {"key": "id", "identities": {"x": "exact"},
    "sources": [{"name": "s", "file": "s.csv"}]}}})J");
  EXPECT_TRUE(has(e, "maps no identity")) << e;
  e = error_of(R"J({"entities": {"a": {"identities": {"x": "exact"},
    "sources": [{"name": "s", "file": "s.csv", "identities": {"x": "X"}}]}}})J");
  EXPECT_TRUE(has(e, "has sources but no 'key'")) << e;
  e = error_of(R"J({"entities": {"a": {"key": "id", "identities": {"x": "fuzzy"},
    "sources": [{"name": "s", "file": "s.csv", "identities": {"x": "X"}}]}}})J");
  EXPECT_TRUE(has(e, "unknown rule 'fuzzy'")) << e;
  // Resolving keeps a namespace in 16 bits: one identity more than that is refused.
  std::string many = R"J({"entities": {"a": {"key": "id", "identities": {)J";
  for (std::size_t i = 0; i <= b2bseg::max_identity_namespaces; ++i)
    many += (i ? ", \"i" : "\"i") + std::to_string(i) + "\": \"exact\"";
  many += R"J(}, "sources": [{"name": "s", "file": "s.csv", "identities": {"i0": "X"}}]}}})J";
  e = error_of(many);
  EXPECT_TRUE(has(e, "too many identities in entity 'a' (at most 65536)")) << e;
  // A column named on an entity with sources would be ignored: refused.
  text = sources_schema();
  text.replace(text.find("\"score\": \"int\""), 14,
               "\"score\": {\"type\": \"int\", \"column\": \"Score\"}");
  e = error_of(text);
  EXPECT_TRUE(has(e, "attribute 'score' of entity 'person' names column 'Score'")) << e;
  // Every error names the line of schema.json.
  EXPECT_TRUE(has(error_of(sources_schema("\"merge\": \"newest\",")), "schema.json:6:"));
}
