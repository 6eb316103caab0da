// Reading schema.json (SPEC 2.1) into a `schema`, and the validation every schema goes through.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "b2bseg/common/edit_distance.hpp"
#include "b2bseg/common/error.hpp"
#include "b2bseg/common/types.hpp"
#include "b2bseg/detail/json.hpp"
#include "b2bseg/storage/schema.hpp"

namespace b2bseg {

namespace detail::schema_json {

/// A 1-based place in schema.json; 0/0 for a schema built in code.
struct pos {
  std::size_t line = 0;
  std::size_t column = 0;
};

inline pos pos_of(const json::value& v) noexcept {
  return {v.line, v.column};
}
inline pos pos_of(const json::member& m) noexcept {
  return {m.line, m.column};
}

/// Where the parts of one link were written.
struct link_positions {
  pos name, column, to, reverse, identity;
};

/// Where the parts of one source were written; vectors parallel `source_def`'s.
struct source_positions {
  pos at, name, file, updated_at;
  std::vector<pos> identities, attributes, links, link_identities;
};

/// Where the parts of one entity were written; vectors parallel `entity_def`'s.
struct entity_positions {
  pos name, file, key, identities_member, merge, max_rows, sources_member;
  std::vector<pos> attributes;
  std::vector<link_positions> links;
  std::vector<pos> identities;
  std::vector<source_positions> sources;
};

/// Where the parts of a schema were written; `entities` parallels `schema::entities`.
struct schema_positions {
  pos entities_member;
  pos partition;
  std::vector<entity_positions> entities;
};

[[noreturn]] inline void fail(const std::string& file, pos p, const std::string& message) {
  throw data_error(file, p.line, p.column, message);
}

/// True for `[A-Za-z_][A-Za-z0-9_]*`.
constexpr bool is_identifier(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

/// `s` in single quotes for a message: control bytes as \xNN, cut after 64 bytes.
inline std::string quote(std::string_view s) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string q = "'";
  for (std::size_t i = 0; i < s.size() && i < 64; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) {
      q += "\\x";
      q += digits[c >> 4];
      q += digits[c & 15];
    } else {
      q += static_cast<char>(c);
    }
  }
  if (s.size() > 64) q += "...";
  return q + "'";
}

/// The candidate closest to `got` (see `b2bseg::closest_name`), or "" when none is close.
template <class Range>
std::string closest(std::string_view got, const Range& candidates) {
  std::vector<std::string_view> names;
  for (std::string_view c : candidates) names.push_back(c);
  return b2bseg::closest_name(got, names);
}

/// "; did you mean 'x'?" for the closest candidate, or `otherwise` when none is close.
template <class Range>
std::string suggestion(std::string_view got, const Range& candidates,
                       const std::string& otherwise) {
  std::string best = closest(got, candidates);
  return best.empty() ? otherwise : "; did you mean " + quote(best) + "?";
}

/// Throws unless `name` is an identifier. `what` is "entity", "attribute", ...; `where` says where
/// the name stands (" in entity 'person'"), or is empty.
inline void check_identifier(const std::string& file, pos p, std::string_view what,
                             std::string_view name, const std::string& where) {
  if (!is_identifier(name))
    fail(file, p,
         "invalid " + std::string(what) + " name " + quote(name) + where +
             " (expected [A-Za-z_][A-Za-z0-9_]*)");
}

/// Throws for a member not in `allowed`: "unknown member 'x' <where>; did you mean 'y'?".
inline void check_member(const std::string& file, const json::member& m,
                         std::initializer_list<std::string_view> allowed,
                         const std::string& where) {
  for (std::string_view a : allowed)
    if (m.key == a) return;
  std::string expected = " (expected ";
  std::size_t i = 0;
  for (std::string_view a : allowed) {
    if (i > 0) expected += i + 1 == allowed.size() ? " or " : ", ";
    expected += quote(a);
    ++i;
  }
  expected += ")";
  fail(file, pos_of(m),
       "unknown member " + quote(m.key) + " " + where + suggestion(m.key, allowed, expected));
}

/// The text of a string member that must be a non-empty string without NUL characters.
inline const std::string& text_of(const std::string& file, const json::member& m,
                                  const std::string& what) {
  const json::value& v = m.val;
  if (!v.is_string())
    fail(file, pos_of(v), what + " must be a string, not " + std::string(json::kind_name(v.type)));
  if (v.text.empty()) fail(file, pos_of(v), what + " must not be empty");
  if (v.text.find('\0') != std::string::npos)
    fail(file, pos_of(v), what + " must not contain a NUL character");
  return v.text;
}

inline void read_attribute(const std::string& file, const json::member& m, entity_def& e,
                           entity_positions& ep) {
  const std::string where = " of entity " + quote(e.name);
  check_identifier(file, pos_of(m), "attribute", m.key, " in entity " + quote(e.name));
  attribute_def a;
  a.name = m.key;
  a.column = m.key;
  const json::value* type = nullptr;
  if (m.val.is_string()) {
    type = &m.val;
  } else if (m.val.is_object()) {
    for (const json::member& am : m.val.members) {
      check_member(file, am, {"type", "column"}, "in attribute " + quote(a.name) + where);
      if (am.key == "type")
        type = &am.val;
      else
        a.column = text_of(file, am, "'column' of attribute " + quote(a.name) + where);
    }
    if (!type) fail(file, pos_of(m.val), "attribute " + quote(a.name) + where + " has no 'type'");
    if (!type->is_string())
      fail(file, pos_of(*type),
           "'type' of attribute " + quote(a.name) + where + " must be a string, not " +
               std::string(json::kind_name(type->type)));
  } else {
    fail(file, pos_of(m.val),
         "attribute " + quote(a.name) + where +
             " must be a type name or an object {\"type\": ..., \"column\": ...}, not " +
             std::string(json::kind_name(m.val.type)));
  }
  auto t = parse_value_type(type->text);
  if (!t)
    fail(file, pos_of(*type),
         "unknown type " + quote(type->text) + " for attribute " + quote(a.name) +
             " (expected string, int, float, bool, timestamp or string[])");
  a.type = *t;
  e.attributes.push_back(std::move(a));
  ep.attributes.push_back(pos_of(m));
}

inline void read_link(const std::string& file, const json::member& m, entity_def& e,
                      entity_positions& ep, bool resolved) {
  check_identifier(file, pos_of(m), "link", m.key, " in entity " + quote(e.name));
  const std::string what = "link " + quote(e.name + "." + m.key);
  if (!m.val.is_object())
    fail(file, pos_of(m.val),
         what + " must be an object {\"column\": ..., \"to\": ..., \"reverse\": ...}, not " +
             std::string(json::kind_name(m.val.type)));
  link_def l;
  l.name = m.key;
  link_positions lp;
  lp.name = pos_of(m);
  bool has_column = false, has_to = false;
  for (const json::member& lm : m.val.members) {
    check_member(file, lm, {"column", "to", "reverse", "identity"}, "in " + what);
    if (lm.key == "identity") {
      l.identity = text_of(file, lm, "'identity' of " + what);
      lp.identity = pos_of(lm.val);
    } else if (lm.key == "column") {
      l.column = text_of(file, lm, "'column' of " + what);
      lp.column = pos_of(lm.val);
      has_column = true;
    } else if (lm.key == "to") {
      l.to = text_of(file, lm, "'to' of " + what);
      lp.to = pos_of(lm.val);
      has_to = true;
    } else {
      if (!lm.val.is_string())
        fail(file, pos_of(lm.val),
             "'reverse' of " + what + " must be a string, not " +
                 std::string(json::kind_name(lm.val.type)));
      l.reverse = lm.val.text;
      lp.reverse = pos_of(lm.val);
      check_identifier(file, lp.reverse, "reverse", l.reverse, " of " + what);
    }
  }
  // An entity with sources takes its link columns from each source; validate checks the rest.
  if (!has_column && !resolved) fail(file, pos_of(m.val), what + " has no 'column'");
  if (has_column && resolved)
    fail(file, lp.column,
         what + ": an entity with sources names the column of a link in each source, not here");
  if (!has_to) fail(file, pos_of(m.val), what + " has no 'to'");
  e.links.push_back(std::move(l));
  ep.links.push_back(lp);
}

/// The members of an object member `m` (`what` names it in errors).
inline const std::vector<json::member>& object_members(const std::string& file,
                                                       const json::member& m,
                                                       const std::string& what) {
  if (!m.val.is_object())
    fail(file, pos_of(m.val),
         what + " must be an object, not " + std::string(json::kind_name(m.val.type)));
  return m.val.members;
}

/// One source of entity `e` (SPEC 2.3): {"name", "file", "identities", "attributes", "links",
/// "updated_at"}. Names are checked against the entity by `validate`.
inline void read_source(const std::string& file, const json::value& v, entity_def& e,
                        entity_positions& ep) {
  const std::string of = "entity " + quote(e.name);
  if (!v.is_object())
    fail(file, pos_of(v),
         "a source of " + of + " must be an object {\"name\": ..., \"file\": ..., ...}, not " +
             std::string(json::kind_name(v.type)));
  source_def src;
  source_positions sp;
  sp.at = pos_of(v);
  for (const json::member& m : v.members)
    if (m.key == "name") {
      src.name = text_of(file, m, "'name' of a source of " + of);
      sp.name = pos_of(m.val);
    }
  if (src.name.empty())
    fail(file, pos_of(v), "a source of " + of + " has no 'name' (e.g. \"salesforce\")");
  check_identifier(file, sp.name, "source", src.name, " in " + of);
  const std::string what = "source " + quote(src.name) + " of " + of;
  bool has_file = false;
  for (const json::member& m : v.members) {
    check_member(file, m, {"name", "file", "identities", "attributes", "links", "updated_at"},
                 "in " + what);
    if (m.key == "name") continue;
    if (m.key == "file") {
      src.file = text_of(file, m, "'file' of " + what);
      sp.file = pos_of(m.val);
      has_file = true;
    } else if (m.key == "updated_at") {
      src.updated_at = text_of(file, m, "'updated_at' of " + what);
      sp.updated_at = pos_of(m.val);
    } else if (m.key == "links") {
      for (const json::member& lm : object_members(file, m, "'links' of " + what)) {
        source_field f;
        f.name = lm.key;
        pos identity_pos;
        const std::string lwhat = "link " + quote(lm.key) + " of " + what;
        if (lm.val.is_string()) {
          f.column = text_of(file, lm, "the column of " + lwhat);
        } else if (lm.val.is_object()) {
          for (const json::member& x : lm.val.members) {
            check_member(file, x, {"column", "identity"}, "in " + lwhat);
            if (x.key == "column") {
              f.column = text_of(file, x, "'column' of " + lwhat);
            } else {
              f.identity = text_of(file, x, "'identity' of " + lwhat);
              identity_pos = pos_of(x.val);
            }
          }
          if (f.column.empty()) fail(file, pos_of(lm.val), lwhat + " has no 'column'");
        } else {
          fail(file, pos_of(lm.val),
               lwhat +
                   " must be a column name or an object {\"column\": ..., \"identity\": "
                   "...}, not " +
                   std::string(json::kind_name(lm.val.type)));
        }
        src.links.push_back(std::move(f));
        sp.links.push_back(pos_of(lm));
        sp.link_identities.push_back(identity_pos);
      }
    } else {
      const bool ids = m.key == "identities";
      for (const json::member& im : object_members(file, m, "'" + m.key + "' of " + what)) {
        source_field f;
        f.name = im.key;
        f.column = text_of(file, im,
                           "the column of " + std::string(ids ? "identity " : "attribute ") +
                               quote(im.key) + " in " + what);
        (ids ? src.identities : src.attributes).push_back(std::move(f));
        (ids ? sp.identities : sp.attributes).push_back(pos_of(im));
      }
    }
  }
  if (!has_file) fail(file, pos_of(v), what + " has no 'file'");
  e.sources.push_back(std::move(src));
  ep.sources.push_back(std::move(sp));
}

inline void read_entity(const std::string& file, const json::member& m, schema& s,
                        schema_positions& sp) {
  check_identifier(file, pos_of(m), "entity", m.key, "");
  const std::string where = "entity " + quote(m.key);
  if (!m.val.is_object())
    fail(file, pos_of(m.val),
         where + " must be an object, not " + std::string(json::kind_name(m.val.type)));
  entity_def e;
  e.name = m.key;
  entity_positions ep;
  ep.name = pos_of(m);
  bool has_file = false;
  const json::member* sources = nullptr;
  for (const json::member& em : m.val.members)
    if (em.key == "sources") sources = &em;
  for (const json::member& em : m.val.members) {
    check_member(file, em,
                 {"file", "key", "attributes", "links", "identities", "merge", "sources",
                  "max_rows_per_profile"},
                 "in " + where);
    if (em.key == "file") {
      e.file = text_of(file, em, "'file' of " + where);
      ep.file = pos_of(em.val);
      has_file = true;
    } else if (em.key == "key") {
      e.key = text_of(file, em, "'key' of " + where);
      ep.key = pos_of(em.val);
    } else if (em.key == "merge") {
      const std::string& t = text_of(file, em, "'merge' of " + where);
      ep.merge = pos_of(em.val);
      if (t == "priority")
        e.merge = merge_policy::priority;
      else if (t == "latest")
        e.merge = merge_policy::latest;
      else
        fail(file, ep.merge,
             "unknown merge policy " + quote(t) + " of " + where +
                 suggestion(t, std::vector<std::string_view>{"priority", "latest"},
                            " (expected 'priority' or 'latest')"));
    } else if (em.key == "max_rows_per_profile") {
      ep.max_rows = pos_of(em.val);
      const json::value& v = em.val;
      if (!v.is_number() || v.text.find_first_of(".eE-") != std::string::npos ||
          v.text.size() > 9 || v.text == "0")
        fail(file, ep.max_rows,
             "'max_rows_per_profile' of " + where +
                 " must be a whole number from 1 to 999999999, not " +
                 (v.is_string() ? quote(v.text) : std::string(json::kind_name(v.type))));
      e.max_rows_per_profile = static_cast<std::uint32_t>(std::stoul(v.text));
    } else if (em.key == "sources") {
      ep.sources_member = pos_of(em.val);
      if (!em.val.is_array())
        fail(file, pos_of(em.val),
             "'sources' of " + where + " must be an array of sources, not " +
                 std::string(json::kind_name(em.val.type)));
      if (em.val.items.empty()) fail(file, pos_of(em.val), "'sources' of " + where + " is empty");
      for (const json::value& v : em.val.items) read_source(file, v, e, ep);
    } else if (em.key == "identities") {
      ep.identities_member = pos_of(em.val);
      for (const json::member& im : object_members(file, em, "'identities' of " + where)) {
        check_identifier(file, pos_of(im), "identity", im.key, " in " + where);
        identity_def d;
        d.name = im.key;
        const std::string& rule =
            text_of(file, im, "the rule of identity " + quote(im.key) + " in " + where);
        if (rule == "exact")
          d.rule = identity_rule::exact;
        else if (rule == "email")
          d.rule = identity_rule::email;
        else
          fail(file, pos_of(im.val),
               "unknown rule " + quote(rule) + " for identity " + quote(im.key) + " in " + where +
                   suggestion(rule, std::vector<std::string_view>{"exact", "email"},
                              " (expected 'exact' or 'email')"));
        if (e.identities.size() == max_identity_namespaces)
          fail(file, pos_of(im),
               "too many identities in " + where + " (at most " +
                   std::to_string(max_identity_namespaces) + ")");
        e.identities.push_back(std::move(d));
        ep.identities.push_back(pos_of(im));
      }
    } else {
      const bool attributes = em.key == "attributes";
      if (!em.val.is_object())
        fail(file, pos_of(em.val),
             "'" + em.key + "' of " + where + " must be an object, not " +
                 std::string(json::kind_name(em.val.type)));
      for (const json::member& item : em.val.members) {
        if (attributes)
          read_attribute(file, item, e, ep);
        else
          read_link(file, item, e, ep, sources != nullptr);
      }
    }
  }
  if (sources && has_file)
    fail(file, ep.file,
         where + " has both 'file' and 'sources': an entity reads one file, or merges its sources");
  if (!has_file && !sources) e.file = e.name + ".csv";
  s.entities.push_back(std::move(e));
  sp.entities.push_back(std::move(ep));
}

/// Builds a schema from a parsed schema.json, checking its shape and the local rules (names,
/// types, members); `validate` does the rest.
inline schema from_json(const json::value& root, const std::string& file, schema_positions& sp) {
  if (!root.is_object())
    fail(file, pos_of(root),
         "schema must be a JSON object, not " + std::string(json::kind_name(root.type)));
  const json::member* entities = nullptr;
  const json::member* partition = nullptr;
  for (const json::member& m : root.members) {
    check_member(file, m, {"entities", "partition"}, "at the top level");
    (m.key == "partition" ? partition : entities) = &m;
  }
  if (!entities) fail(file, pos_of(root), "schema has no 'entities' member");
  if (!entities->val.is_object())
    fail(file, pos_of(entities->val),
         "'entities' must be an object, not " + std::string(json::kind_name(entities->val.type)));
  sp.entities_member = pos_of(entities->val);
  schema s;
  if (partition) {
    if (!partition->val.is_string() || partition->val.text.empty())
      fail(file, pos_of(partition->val),
           "'partition' must name an entity (e.g. \"partition\": \"account\")");
    s.partition = partition->val.text;
    sp.partition = pos_of(partition->val);
  }
  for (const json::member& m : entities->val.members) read_entity(file, m, s, sp);
  return s;
}

/// Index of identity namespace `ns` of entity `target`, for `what` (a link) that names it.
/// Throws data_error "unknown namespace" with the namespaces there are.
inline std::uint32_t namespace_of(const entity_def& target, const std::string& ns,
                                  const std::string& file, pos p, const std::string& what) {
  const int i = target.find_identity(ns);
  if (i >= 0) return static_cast<std::uint32_t>(i);
  std::vector<std::string_view> known;
  std::string list;
  for (const identity_def& d : target.identities) {
    known.push_back(d.name);
    list += (list.empty() ? "" : ", ") + quote(d.name);
  }
  fail(file, p,
       what + " names unknown namespace " + quote(ns) + " of entity " + quote(target.name) +
           suggestion(ns, known,
                      target.identities.empty()
                          ? " (entity " + quote(target.name) +
                                " has no identities: only an entity with sources has them)"
                          : " (namespaces of " + quote(target.name) + ": " + list + ")"));
}

/// The SPEC 2.3 rules of one entity's identities and sources; fills each source field's index.
inline void validate_sources(entity_def& e, const std::string& file, const entity_positions& ep) {
  const std::string of = "entity " + quote(e.name);
  if (!e.resolved()) {
    if (!e.identities.empty())
      fail(file, ep.identities_member,
           of + " has 'identities' but no 'sources': identities merge the rows of sources");
    if (ep.merge.line)
      fail(file, ep.merge, of + " has 'merge' but no 'sources': merging needs sources");
    if (ep.max_rows.line)
      fail(file, ep.max_rows,
           of + " has 'max_rows_per_profile' but no 'sources': only profiles merge rows");
    return;
  }
  if (!e.key)
    fail(file, ep.name,
         of + " has sources but no 'key': name the key column of its profiles in outputs "
              "(e.g. \"key\": \"person_id\")");
  if (e.identities.empty())
    fail(file, ep.identities_member.line ? ep.identities_member : ep.name,
         of + " has sources but no 'identities' (e.g. {\"email\": \"email\"}) to merge them by");
  if (e.max_rows_per_profile == 0) fail(file, ep.max_rows, "'max_rows_per_profile' must be >= 1");
  // Messages about a link of merged profiles name the link where a plain entity names a column.
  for (link_def& l : e.links)
    if (l.column.empty()) l.column = l.name;
  // Columns are each source's: a column named on the entity would be silently ignored.
  for (std::size_t i = 0; i < e.attributes.size(); ++i)
    if (e.attributes[i].column != e.attributes[i].name)
      fail(file, i < ep.attributes.size() ? ep.attributes[i] : ep.name,
           "attribute " + quote(e.attributes[i].name) + " of " + of + " names column " +
               quote(e.attributes[i].column) +
               ": an entity with sources maps its columns in each source's \"attributes\"");
  for (std::size_t i = 0; i < e.identities.size(); ++i) {
    check_identifier(file, i < ep.identities.size() ? ep.identities[i] : pos{}, "identity",
                     e.identities[i].name, " in " + of);
    for (std::size_t j = 0; j < i; ++j)
      if (e.identities[j].name == e.identities[i].name)
        fail(file, i < ep.identities.size() ? ep.identities[i] : pos{},
             "duplicate identity " + quote(e.identities[i].name) + " in " + of);
  }
  for (std::size_t k = 0; k < e.sources.size(); ++k) {
    source_def& src = e.sources[k];
    const source_positions none;
    const source_positions& sp = k < ep.sources.size() ? ep.sources[k] : none;
    check_identifier(file, sp.name, "source", src.name, " in " + of);
    const std::string what = "source " + quote(src.name) + " of " + of;
    for (std::size_t j = 0; j < k; ++j)
      if (e.sources[j].name == src.name) fail(file, sp.name, "duplicate " + what);
    if (src.file.empty() || src.file.find('\0') != std::string::npos)
      fail(file, sp.file.line ? sp.file : sp.at,
           "'file' of " + what + " must be a file name without NUL characters");
    // Each item names something the entity has, once, from a non-empty column.
    auto resolve = [&](std::vector<source_field>& fields, const std::vector<pos>& places,
                       const char* kind, auto&& names) {
      std::vector<std::string_view> known;
      for (const auto& d : names) known.push_back(d.name);
      for (std::size_t j = 0; j < fields.size(); ++j) {
        source_field& f = fields[j];
        const pos p = j < places.size() ? places[j] : pos{};
        if (f.column.empty() || f.column.find('\0') != std::string::npos)
          fail(file, p,
               std::string(kind) + " " + quote(f.name) + " of " + what +
                   " needs a column name without NUL characters");
        auto it = std::find(known.begin(), known.end(), std::string_view(f.name));
        if (it == known.end())
          fail(file, p,
               what + " maps unknown " + kind + " " + quote(f.name) + " (the " + kind +
                   "s of an entity with sources are declared on the entity)" +
                   suggestion(f.name, known, ""));
        f.index = static_cast<std::uint32_t>(it - known.begin());
        for (std::size_t x = 0; x < j; ++x)
          if (fields[x].index == f.index)
            fail(file, p, what + " maps " + kind + " " + quote(f.name) + " twice");
      }
    };
    resolve(src.identities, sp.identities, "identity", e.identities);
    resolve(src.attributes, sp.attributes, "attribute", e.attributes);
    resolve(src.links, sp.links, "link", e.links);
    if (src.identities.empty())
      fail(file, sp.at,
           what + " maps no identity: every row of a source needs one to join a profile");
  }
}

/// What a name within an entity stands for, to report clashes.
struct name_owner {
  enum { attribute, link, reverse } what;
  entity_id source;  ///< for a reverse: the entity whose link lands here
  std::uint32_t index;
};

/// Checks the whole schema, fills defaults, resolves link targets and fills the reverses.
/// `sp`, when given, parallels `s` and places the errors; otherwise errors carry no line.
inline void validate(schema& s, const std::string& file, const schema_positions* sp) {
  const entity_positions no_entity_positions;
  auto at = [&](std::size_t e) -> const entity_positions& {
    return sp && e < sp->entities.size() ? sp->entities[e] : no_entity_positions;
  };
  auto attr_pos = [&](std::size_t e, std::size_t i) {
    const auto& v = at(e).attributes;
    return i < v.size() ? v[i] : pos{};
  };
  auto link_pos = [&](std::size_t e, std::size_t i) {
    const auto& v = at(e).links;
    return i < v.size() ? v[i] : link_positions{};
  };
  auto later = [](pos a, pos b) {
    return a.line != b.line ? (a.line > b.line ? a : b) : (a.column > b.column ? a : b);
  };

  if (s.entities.empty()) fail(file, sp ? sp->entities_member : pos{}, "schema has no entities");
  if (s.entities.size() >= no_entity) fail(file, pos{}, "too many entities");

  std::unordered_map<std::string_view, entity_id> entity_index;
  std::vector<std::unordered_map<std::string_view, name_owner>> names(s.entities.size());
  for (std::size_t ei = 0; ei < s.entities.size(); ++ei) {
    entity_def& e = s.entities[ei];
    const std::string in = " in entity " + quote(e.name);
    check_identifier(file, at(ei).name, "entity", e.name, "");
    if (!entity_index.emplace(e.name, static_cast<entity_id>(ei)).second)
      fail(file, at(ei).name, "duplicate entity " + quote(e.name));
    if (e.file.empty() && !e.resolved()) e.file = e.name + ".csv";
    if (e.file.find('\0') != std::string::npos)
      fail(file, at(ei).file, "'file' of entity " + quote(e.name) + " must not contain a NUL");
    if (e.key && e.key->empty())
      fail(file, at(ei).key, "'key' of entity " + quote(e.name) + " must not be empty");
    auto& own = names[ei];
    for (std::size_t i = 0; i < e.attributes.size(); ++i) {
      attribute_def& a = e.attributes[i];
      check_identifier(file, attr_pos(ei, i), "attribute", a.name, in);
      if (a.column.empty()) a.column = a.name;
      if (!own.emplace(a.name,
                       name_owner{name_owner::attribute, no_entity, static_cast<std::uint32_t>(i)})
               .second)
        fail(file, attr_pos(ei, i), "duplicate attribute " + quote(a.name) + in);
    }
    if (e.links.size() > 0xFFFFFFFFu) fail(file, at(ei).name, "too many links" + in);
    for (std::size_t i = 0; i < e.links.size(); ++i) {
      link_def& l = e.links[i];
      const link_positions lp = link_pos(ei, i);
      check_identifier(file, lp.name, "link", l.name, in);
      auto [it, fresh] = own.emplace(
          l.name, name_owner{name_owner::link, no_entity, static_cast<std::uint32_t>(i)});
      if (!fresh) {
        if (it->second.what == name_owner::link)
          fail(file, lp.name, "duplicate link " + quote(l.name) + in);
        fail(file, later(lp.name, attr_pos(ei, it->second.index)),
             "name " + quote(l.name) + " is both an attribute and a link" + in);
      }
      const std::string what = "link " + quote(e.name + "." + l.name);
      if (l.column.empty() && !e.resolved()) fail(file, lp.column, what + " has no column");
      if (!l.reverse.empty())
        check_identifier(file, lp.reverse, "reverse", l.reverse, " of " + what);
    }
    validate_sources(e, file, at(ei));
  }

  for (std::size_t ei = 0; ei < s.entities.size(); ++ei) {
    entity_def& e = s.entities[ei];
    for (std::size_t i = 0; i < e.links.size(); ++i) {
      link_def& l = e.links[i];
      auto it = entity_index.find(l.to);
      if (it == entity_index.end()) {
        std::vector<std::string_view> known;
        known.reserve(s.entities.size());
        for (const entity_def& k : s.entities) known.push_back(k.name);
        fail(file, link_pos(ei, i).to,
             "link " + quote(e.name + "." + l.name) + " points to unknown entity " + quote(l.to) +
                 suggestion(l.to, known, ""));
      }
      l.target = it->second;
      // A link's column holds the target's key: an entity without one cannot be pointed at.
      if (!s.entities[l.target].key)
        fail(file, link_pos(ei, i).to,
             "link " + quote(e.name + "." + l.name) + " points to entity " + quote(l.to) +
                 ", which has no \"key\": a link's column holds the key of the row it points to");
      if (!l.identity.empty())
        l.identity_index =
            namespace_of(s.entities[l.target], l.identity, file, link_pos(ei, i).identity,
                         "link " + quote(e.name + "." + l.name));
    }
    // A source's link names its own namespace, or takes the entity link's.
    for (std::size_t k = 0; k < e.sources.size(); ++k) {
      source_def& src = e.sources[k];
      const source_positions* sp_k = k < at(ei).sources.size() ? &at(ei).sources[k] : nullptr;
      for (std::size_t j = 0; j < src.links.size(); ++j) {
        source_field& f = src.links[j];
        const link_def& l = e.links[f.index];
        if (f.identity.empty()) f.identity = l.identity;
        if (f.identity.empty()) continue;
        const pos p = sp_k && j < sp_k->link_identities.size() && sp_k->link_identities[j].line
                          ? sp_k->link_identities[j]
                          : link_pos(ei, f.index).identity;
        f.identity_index = namespace_of(s.entities[l.target], f.identity, file, p,
                                        "link " + quote(l.name) + " of source " + quote(src.name) +
                                            " of entity " + quote(e.name));
      }
    }
  }

  for (entity_def& e : s.entities) e.reverses.clear();
  for (std::size_t ei = 0; ei < s.entities.size(); ++ei) {
    const entity_def& e = s.entities[ei];
    for (std::size_t i = 0; i < e.links.size(); ++i) {
      const link_def& l = e.links[i];
      if (l.reverse.empty()) continue;
      entity_def& target = s.entities[l.target];
      const std::string what =
          "reverse " + quote(l.reverse) + " of link " + quote(e.name + "." + l.name);
      auto [it, fresh] = names[l.target].emplace(
          l.reverse, name_owner{name_owner::reverse, static_cast<entity_id>(ei),
                                static_cast<std::uint32_t>(i)});
      if (!fresh) {
        const name_owner& o = it->second;
        std::string other;
        if (o.what == name_owner::attribute)
          other = "attribute " + quote(l.reverse) + " of entity " + quote(target.name);
        else if (o.what == name_owner::link)
          other = "link " + quote(l.reverse) + " of entity " + quote(target.name);
        else
          other =
              "reverse " + quote(l.reverse) + " of link " +
              quote(s.entities[o.source].name + "." + s.entities[o.source].links[o.index].name) +
              " on entity " + quote(target.name);
        fail(file, link_pos(ei, i).reverse, what + " clashes with " + other);
      }
      target.reverses.push_back(
          reverse_def{l.reverse, static_cast<entity_id>(ei), static_cast<std::uint32_t>(i)});
    }
  }
  if (!s.partition.empty()) {
    const pos at_partition = sp ? sp->partition : pos{};
    auto it = entity_index.find(s.partition);
    if (it == entity_index.end()) {
      std::vector<std::string_view> known;
      for (const entity_def& k : s.entities) known.push_back(k.name);
      fail(file, at_partition,
           "'partition' names unknown entity " + quote(s.partition) +
               suggestion(s.partition, known, ""));
    }
    if (!s.entities[it->second].key)
      fail(file, at_partition,
           "'partition' entity " + quote(s.partition) +
               " has no 'key': processes are chosen by the hash of its key");
  }
}

/// Reads a whole file into a string. Throws data_error "cannot open" / "cannot read".
inline std::string read_text(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(path, pos{}, std::string("cannot open: ") + std::strerror(errno));
  std::string text;
  char buffer[65536];
  for (;;) {
    std::size_t n = std::fread(buffer, 1, sizeof buffer, f);
    text.append(buffer, n);
    if (n < sizeof buffer) break;
  }
  const bool bad = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (bad) fail(path, pos{}, std::string("cannot read: ") + std::strerror(err));
  return text;
}

}  // namespace detail::schema_json

/// Parses and validates schema.json text (SPEC 2.1); `file` names it in errors. An entity without
/// "file" reads "<entity>.csv"; an attribute given as a bare type reads the column of its own name.
/// Link targets are resolved and every entity's `reverses` filled, as `validate_schema` does.
/// O(size of text). Throws data_error(file, line, column, ...) at the offending JSON value: syntax
/// errors ("invalid JSON: ..."), unknown members, bad names, unknown types, links to unknown
/// entities, name clashes within an entity, a schema without entities.
inline schema parse_schema(std::string_view json_text, const std::string& file) {
  const detail::json::value root = detail::json::parse(json_text, file);
  detail::schema_json::schema_positions positions;
  schema s = detail::schema_json::from_json(root, file, positions);
  detail::schema_json::validate(s, file, &positions);
  return s;
}

/// Reads and parses the schema file at `path` (see `parse_schema`); errors name `path`. Throws
/// data_error, "cannot open: <reason>" for a file that cannot be opened.
inline schema read_schema(const std::string& path) {
  return parse_schema(detail::schema_json::read_text(path), path);
}

/// The schema as schema.json text (SPEC 2.1, 2.3) that `parse_schema` reads back to the same
/// schema: entities, attributes, links and sources in order, every column named. Snapshots carry
/// their schema in this form. O(size of the schema).
inline std::string to_json(const schema& s) {
  using detail::append_json_string;
  std::string o = "{\n  \"entities\": {";
  auto member = [&](std::string_view indent, std::string_view name, bool& first) {
    o += first ? "\n" : ",\n";
    first = false;
    o += indent;
    append_json_string(o, name);
    o += ": ";
  };
  auto text = [&](std::string_view name, std::string_view v, bool& first) {
    o += first ? "" : ", ";
    first = false;
    append_json_string(o, name);
    o += ": ";
    append_json_string(o, v);
  };
  bool first_entity = true;
  for (const entity_def& e : s.entities) {
    member("    ", e.name, first_entity);
    o += "{";
    bool first = true;
    if (!e.resolved()) member("      ", "file", first), append_json_string(o, e.file);
    if (e.key) member("      ", "key", first), append_json_string(o, *e.key);
    member("      ", "attributes", first);
    o += "{";
    bool fa = true;
    for (const attribute_def& a : e.attributes) {
      member("        ", a.name, fa);
      if (e.resolved()) {
        append_json_string(o, to_string(a.type));
      } else {
        bool f = true;
        o += "{";
        text("type", to_string(a.type), f);
        text("column", a.column, f);
        o += "}";
      }
    }
    o += fa ? "}" : "\n      }";
    member("      ", "links", first);
    o += "{";
    bool fl = true;
    for (const link_def& l : e.links) {
      member("        ", l.name, fl);
      bool f = true;
      o += "{";
      if (!e.resolved()) text("column", l.column, f);
      text("to", l.to, f);
      if (!l.reverse.empty()) text("reverse", l.reverse, f);
      if (!l.identity.empty()) text("identity", l.identity, f);
      o += "}";
    }
    o += fl ? "}" : "\n      }";
    if (e.resolved()) {
      member("      ", "identities", first);
      o += "{";
      bool fi = true;
      for (const identity_def& d : e.identities)
        text(d.name, d.rule == identity_rule::email ? "email" : "exact", fi);
      o += "}";
      member("      ", "merge", first);
      append_json_string(o, e.merge == merge_policy::latest ? "latest" : "priority");
      member("      ", "max_rows_per_profile", first);
      o += std::to_string(e.max_rows_per_profile);
      member("      ", "sources", first);
      o += "[";
      bool fs = true;
      for (const source_def& src : e.sources) {
        o += fs ? "\n        {" : ",\n        {";
        fs = false;
        bool f = true;
        text("name", src.name, f);
        text("file", src.file, f);
        auto fields = [&](std::string_view what, const std::vector<source_field>& v) {
          o += ", ";
          append_json_string(o, what);
          o += ": {";
          bool ff = true;
          for (const source_field& x : v) text(x.name, x.column, ff);
          o += "}";
        };
        fields("identities", src.identities);
        fields("attributes", src.attributes);
        o += ", \"links\": {";
        bool ff = true;
        for (const source_field& x : src.links) {
          o += ff ? "" : ", ";
          ff = false;
          append_json_string(o, x.name);
          o += ": {";
          bool fx = true;
          text("column", x.column, fx);
          if (!x.identity.empty()) text("identity", x.identity, fx);
          o += "}";
        }
        o += "}";
        if (!src.updated_at.empty()) text("updated_at", src.updated_at, f);
        o += "}";
      }
      o += "\n      ]";
    }
    o += "\n    }";
  }
  o += first_entity ? "}" : "\n  }";
  if (!s.partition.empty()) {
    o += ",\n  \"partition\": ";
    append_json_string(o, s.partition);
  }
  o += "\n}\n";
  return o;
}

/// Checks a schema built in code by the rules of `parse_schema`, with messages that name `origin`
/// and no line. Fills what is left empty: `file` becomes "<entity>.csv", an attribute's `column`
/// its name. Resolves every `link_def::target` and rebuilds every entity's `reverses` (in schema
/// order of the source entities and their links), so calling it again is harmless. An empty
/// `reverse` means the link has none. O(names). Throws data_error.
inline void validate_schema(schema& s, const std::string& origin = "schema") {
  detail::schema_json::validate(s, origin, nullptr);
}

}  // namespace b2bseg
