// Test helper: random change feeds (SPEC 2.4) over a graph, and a shadow model of the rows that
// applies them the plain way (maps of column texts, whole scans for cascades), so that the live
// engine can be compared with "the CSVs that hold the changed rows".
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "b2bseg/b2bseg.hpp"
#include "b2bseg/live/feed.hpp"
#include "support/random_graph.hpp"

namespace b2bseg::test_support {

/// The rows as a test means them: per entity, in order (loaded rows first, then created ones),
/// each a map from CSV column to text; a deleted row is nullopt.
class shadow_rows {
 public:
  using row = std::map<std::string, std::string>;

  /// Reads the rows of `g` back, in row order, with the tests' own text forms.
  explicit shadow_rows(const graph& g) : schema_(g.schema()) {
    rows_.resize(schema_.entities.size());
    for (entity_id e = 0; e < schema_.entities.size(); ++e) {
      const auto& def = schema_.entities[e];
      for (row_id r = 0; r < g.rows(e); ++r) {
        row x;
        if (def.key) x[*def.key] = std::string(g.key(e, r));
        for (std::uint32_t l = 0; l < def.links.size(); ++l) {
          const row_id p = g.link(e, l).parent(r);
          if (p != no_row) x[def.links[l].column] = std::string(g.key(def.links[l].target, p));
        }
        for (std::uint32_t a = 0; a < def.attributes.size(); ++a) {
          const column& c = g.attribute(e, a);
          if (c.is_null(r)) continue;
          std::string t;
          switch (c.type()) {
            case value_type::integer:
              t = std::to_string(c.ints()[r]);
              break;
            case value_type::timestamp:
              t = tstext::iso_utc(c.ints()[r]);
              break;
            case value_type::floating:
              t = double_text(c.floats()[r]);
              break;
            case value_type::boolean:
              t = c.bool_at(r) ? "yes" : "no";
              break;
            case value_type::string:
              t = std::string(c.string_at(r));
              break;
            case value_type::string_list:
              for (auto code : c.list_at(r)) t += std::string(c.dictionary()[code]) + "|";
              break;
          }
          x[def.attributes[a].column] = t;
        }
        rows_[e].push_back(std::move(x));
      }
    }
  }

  const b2bseg::schema& schema() const noexcept { return schema_; }

  /// Index of the live row of `e` with key `k`, or -1.
  long find(entity_id e, const std::string& k) const {
    const auto& def = schema_.entities[e];
    if (!def.key) return -1;
    for (std::size_t i = 0; i < rows_[e].size(); ++i)
      if (rows_[e][i] && rows_[e][i]->at(*def.key) == k) return static_cast<long>(i);
    return -1;
  }

  /// Live keys of `e`.
  std::vector<std::string> keys(entity_id e) const {
    std::vector<std::string> out;
    const auto& def = schema_.entities[e];
    if (!def.key) return out;
    for (const auto& x : rows_[e])
      if (x) out.push_back(x->at(*def.key));
    return out;
  }

  /// Live rows of `e`.
  std::vector<const row*> live(entity_id e) const {
    std::vector<const row*> out;
    for (const auto& x : rows_[e])
      if (x) out.push_back(&*x);
    return out;
  }

  /// Upserts (keyed) or inserts (keyless) `fields` ("" = null), as SPEC 2.4 says.
  void put(entity_id e, const row& fields) {
    const auto& def = schema_.entities[e];
    const long i = def.key ? find(e, fields.at(*def.key)) : -1;
    if (i < 0) {
      row x;
      for (const auto& [c, v] : fields)
        if (!v.empty()) x[c] = v;
      rows_[e].push_back(std::move(x));
      return;
    }
    for (const auto& [c, v] : fields) {
      if (v.empty())
        rows_[e][static_cast<std::size_t>(i)]->erase(c);
      else
        (*rows_[e][static_cast<std::size_t>(i)])[c] = v;
    }
  }

  /// Deletes the row of `e` with key `k`: links to it become null in keyed rows; keyless rows
  /// that link to it are deleted.
  void erase(entity_id e, const std::string& k) {
    rows_[e][static_cast<std::size_t>(find(e, k))].reset();
    for (entity_id c = 0; c < schema_.entities.size(); ++c)
      for (const auto& l : schema_.entities[c].links) {
        if (l.target != e) continue;
        for (auto& x : rows_[c]) {
          if (!x) continue;
          auto it = x->find(l.column);
          if (it == x->end() || it->second != k) continue;
          if (schema_.entities[c].key)
            x->erase(it);
          else
            x.reset();
        }
      }
  }

  /// The live rows as a graph, in order.
  graph build() const {
    graph_builder b(schema_);
    for (entity_id e = 0; e < schema_.entities.size(); ++e)
      for (const auto& x : rows_[e]) {
        if (!x) continue;
        std::vector<std::pair<std::string, std::string>> f(x->begin(), x->end());
        b.add_row(schema_.entities[e].name, f);
      }
    return b.build();
  }

 private:
  b2bseg::schema schema_;
  std::vector<std::vector<std::optional<row>>> rows_;
};

/// One generated feed line and whether the shadow took it.
struct feed_line {
  std::string text;
  bool good = true;
  bool commit = false;
};

/// Generates random change lines over a shadow and applies the good ones to it as it goes.
/// `bad_rate` of the lines are bad (a delete of a missing key, a dangling link, an unknown
/// column, a bad value, a tick backwards, malformed JSON); the shadow does not take them.
class change_generator {
 public:
  change_generator(shadow_rows& shadow, timestamp_us now, std::uint64_t seed, double bad_rate)
      : s_(shadow), now_(now), r_(seed * 0xA24BAED4963EE407ULL + 99), bad_rate_(bad_rate) {}

  timestamp_us now() const noexcept { return now_; }

  feed_line next() {
    if (r_.chance(bad_rate_)) return bad();
    const auto& sch = s_.schema();
    const double p = r_.unit();
    if (p < 0.05) {
      now_ += r_.chance(0.5) ? r_.range(0, 3) * 86'400'000'000LL : r_.range(0, 7'200'000'000LL);
      return {"{\"op\": \"tick\", \"now\": \"" + tstext::iso_utc(now_) + "\"}", true, false};
    }
    if (p < 0.10) return {"{\"op\":\"commit\"}", true, true};
    // Pick an entity: keyed for upserts and deletes, keyless for inserts.
    const entity_id e = static_cast<entity_id>(r_.below(sch.entities.size()));
    const auto& def = sch.entities[e];
    if (def.key && p < 0.22) {
      const auto keys = s_.keys(e);
      if (!keys.empty()) {
        const std::string k = r_.pick(keys);
        s_.erase(e, k);
        deleted_.push_back({e, k});
        return {"{\"op\": \"delete\", \"entity\": \"" + def.name + "\", \"key\": " + json(k) + "}",
                true, false};
      }
    }
    shadow_rows::row fields;
    if (def.key) {
      const auto keys = s_.keys(e);
      std::string k;
      if (!keys.empty() && r_.chance(0.7)) {
        k = r_.pick(keys);
      } else if (!deleted_.empty() && r_.chance(0.3) && deleted_.back().first == e &&
                 s_.find(e, deleted_.back().second) < 0) {
        k = deleted_.back().second;  // created again
      } else {
        k = def.name.substr(0, 2) + "_new_" + std::to_string(++created_);
      }
      fields[*def.key] = k;
    }
    const bool fresh = !def.key || s_.find(e, fields[*def.key]) < 0;
    for (const auto& a : def.attributes) {
      // A column that is also the key or a link takes only what those allow.
      bool shared = def.key && a.column == *def.key;
      for (const auto& l : def.links) shared = shared || l.column == a.column;
      if (!shared && (fresh ? r_.chance(0.8) : r_.chance(0.3)))
        fields[a.column] = value_like(e, a.column);
    }
    for (const auto& l : def.links)
      if (fresh ? r_.chance(0.9) : r_.chance(0.3)) {
        const auto targets = s_.keys(l.target);
        fields[l.column] = targets.empty() || r_.chance(0.1) ? "" : r_.pick(targets);
      }
    std::string line = "{\"op\": \"" + std::string(def.key ? "upsert" : "insert") +
                       "\", \"entity\": \"" + def.name + "\", \"row\": {";
    bool first = true;
    for (const auto& [c, v] : fields) {
      if (!first) line += ", ";
      first = false;
      line += json(c) + ": " + value_json(e, c, v);
    }
    line += "}}";
    s_.put(e, fields);
    return {line, true, false};
  }

 private:
  static std::string json(const std::string& s) {
    std::string out;
    detail::append_json_string(out, s);
    return out;
  }

  const attribute_def* attribute_of(entity_id e, const std::string& column) const {
    for (const auto& a : s_.schema().entities[e].attributes)
      if (a.column == column) return &a;
    return nullptr;
  }

  /// A value for `column`, usually copied from another live row of the entity (so values that
  /// segments test for come and go), sometimes null.
  std::string value_like(entity_id e, const std::string& column) {
    if (r_.chance(0.1)) return "";
    const auto rows = s_.live(e);
    for (int tries = 0; tries < 4 && !rows.empty(); ++tries) {
      const auto* x = r_.pick(rows);
      auto it = x->find(column);
      if (it != x->end()) return it->second;
    }
    const attribute_def* a = attribute_of(e, column);
    switch (a ? a->type : value_type::string) {
      case value_type::integer:
        return std::to_string(r_.range(-5, 500));
      case value_type::floating:
        return double_text(static_cast<double>(r_.range(0, 100000)) / 4);
      case value_type::boolean:
        return r_.chance(0.5) ? "true" : "false";
      case value_type::timestamp:
        return tstext::iso_utc(now_ - r_.range(0, 200) * 86'400'000'000LL);
      default:
        return "w" + std::to_string(r_.below(5));
    }
  }

  /// The JSON for value `v` of `column`: a number, bool, array or null where the column's type
  /// allows one, otherwise a string.
  std::string value_json(entity_id e, const std::string& column, const std::string& v) {
    if (v.empty()) return r_.chance(0.5) ? "null" : "\"\"";
    const attribute_def* a = attribute_of(e, column);
    if (a && r_.chance(0.5)) {
      if (a->type == value_type::integer || a->type == value_type::floating) {
        // JSON numbers must follow JSON's grammar: no leading '+' or '.', no bare 'e'.
        if (detail::live::is_json_number(v)) return v;
      }
      if (a->type == value_type::boolean) {
        bool b = false;
        if (parse_bool(v, b)) return b ? "true" : "false";
      }
      if (a->type == value_type::string_list) {
        std::string out = "[";
        std::size_t start = 0;
        bool first = true;
        while (start <= v.size()) {
          std::size_t bar = v.find('|', start);
          if (bar == std::string::npos) bar = v.size();
          if (!first) out += ", ";
          first = false;
          out += json(v.substr(start, bar - start));
          start = bar + 1;
        }
        return out + "]";
      }
    }
    return json(v);
  }

  feed_line bad() {
    const auto& sch = s_.schema();
    switch (r_.below(6)) {
      case 0:
        for (const auto& def : sch.entities)
          if (def.key)
            return {
                "{\"op\": \"delete\", \"entity\": \"" + def.name + "\", \"key\": \"no-such-key\"}",
                false, false};
        break;
      case 1:
        for (const auto& def : sch.entities)
          if (!def.key && !def.links.empty())
            return {"{\"op\": \"insert\", \"entity\": \"" + def.name + "\", \"row\": {\"" +
                        def.links[0].column + "\": \"dangling\"}}",
                    false, false};
        break;
      case 2:
        return {"{\"op\": \"insert\", \"entity\": \"" + sch.entities[0].name +
                    "\", \"row\": {\"no_such_column\": 1}}",
                false, false};
      case 3:
        for (const auto& def : sch.entities)
          for (const auto& a : def.attributes)
            if (a.type == value_type::integer && !def.key)
              return {"{\"op\": \"insert\", \"entity\": \"" + def.name + "\", \"row\": {\"" +
                          a.column + "\": \"12x\"}}",
                      false, false};
        break;
      case 4:
        return {"{\"op\": \"tick\", \"now\": \"" + tstext::iso_utc(now_ - 1000) + "\"}", false,
                false};
      default:
        break;
    }
    return {"{\"op\": \"upsert\", ", false, false};
  }

  shadow_rows& s_;
  timestamp_us now_;
  rng r_;
  double bad_rate_;
  std::size_t created_ = 0;
  std::vector<std::pair<entity_id, std::string>> deleted_;
};

}  // namespace b2bseg::test_support
