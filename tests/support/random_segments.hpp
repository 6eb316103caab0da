// Random segment files over any schema: every construct of SPEC 3, with literals picked from the
// graph's own values so that results are rarely trivially empty or full. Alongside the text, the
// generator builds the bound tree it means (names resolved, literals typed as SPEC 3 says), so
// that the compiler's reading of the text can be checked too.
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "b2bseg/lang/bound.hpp"
#include "b2bseg/storage/graph.hpp"
#include "random_graph.hpp"
#include "reference_evaluator.hpp"

namespace b2bseg::test_support {

/// A generated segments file.
struct generated_segments {
  std::string text;                      ///< the whole file
  std::vector<std::string> names;        ///< segment names, in file order
  std::vector<std::string> definitions;  ///< the text of each definition, in file order
  /// What the text means, built by the generator without the compiler: segments in file order,
  /// `order` = file order (references only go backwards).
  bound_file meant;
};

struct segment_options {
  int segments = 10;                 ///< definitions per file
  int max_depth = 3;                 ///< nesting of boolean operators and relations (0..4)
  double spacing = 0;                ///< chance of odd spacing, line breaks, comments
  double shuffle = 0.5;              ///< chance that definitions come in a random order
  bool mixed_number_attrs = true;    ///< `int_attr op float_attr` in attribute comparisons
  bool extreme_int_literals = true;  ///< int literals within 2^62 of the ends of int64
  bool big_ints_on_floats = true;    ///< int literals beyond 2^53 against floats (or avg of ints)
  double segmentation = 0.3;         ///< chance that a segmentation ends the file
  double bucket = 0.04;              ///< chance that a leaf is a `bucket(...)` comparison
  double sequence = 0.05;            ///< chance that a leaf is `rel.sequence(...)`
  double top = 0.04;                 ///< chance that a leaf is `top(...)`
};

/// Generates segments files over the schema of a graph. Literals are drawn from the graph's
/// values (and sometimes nudged off them), timestamps also relative to `as_of`.
class segment_generator {
 public:
  segment_generator(const graph& g, timestamp_us as_of, std::uint64_t seed)
      : g_(g), s_(g.schema()), as_of_(as_of), r_(seed * 0x9E3779B97F4A7C15ULL + 0x1234567) {}

  /// Decides whether to keep a candidate definition: called with the whole file text so far
  /// (the candidate last) and the candidate's index. The harness uses it to turn down most
  /// segments whose result is trivially empty or full.
  using accept_fn = std::function<bool(const std::string& text, std::size_t index)>;

  /// One file of `opts.segments` definitions; later ones may reference earlier ones. Each
  /// definition is drawn up to `tries` times until `accept` takes it (the last draw is kept).
  generated_segments file(const segment_options& opts, const accept_fn& accept = {},
                          int tries = 6) {
    generated_segments out;
    out.meant.file = "random.seg";
    opts_ = opts;
    defined_.clear();
    pool_.clear();
    std::vector<entity_id> keyed;
    for (entity_id e = 0; e < s_.entities.size(); ++e)
      if (s_.entities[e].key) keyed.push_back(e);
    if (keyed.empty()) return out;
    for (int i = 0; i < opts.segments; ++i) {
      std::string name, def;
      entity_id on = no_entity;
      piece body;
      for (int attempt = 0; attempt < tries; ++attempt) {
        on = keyed[r_.below(keyed.size())];
        name = "s" + std::to_string(i) + "_" + s_.entities[on].name;
        if (r_.chance(0.03)) name = i % 2 ? "null" : "where";  // keywords, in backticks
        // A name may be taken already (keywords): keep names unique.
        if (std::find(out.names.begin(), out.names.end(), name) != out.names.end())
          name = "s" + std::to_string(i);
        const int depth = static_cast<int>(r_.range(opts.max_depth > 0 ? 1 : 0, opts.max_depth));
        body = expr(on, depth);
        def = "segment " + ident(name) + " on " + ident(s_.entities[on].name) + " where" + brk() +
              body.text;
        if (r_.chance(0.2)) def = "# segment number " + std::to_string(i) + "\n" + def;
        if (!accept || accept(out.text + def + "\n", static_cast<std::size_t>(i))) break;
      }
      out.text += def + "\n\n";
      out.definitions.push_back(def);
      out.names.push_back(name);
      bound_segment seg;
      seg.name = name;
      seg.entity = on;
      seg.where = std::move(body.node);
      out.meant.segments.push_back(std::move(seg));
      out.meant.order.push_back(static_cast<std::uint32_t>(i));
      defined_.push_back({name, on});
    }
    if (r_.chance(opts.shuffle)) shuffle(out);
    if (r_.chance(opts.segmentation)) segmentation(out, keyed);
    return out;
  }

 private:
  using node_ptr = std::unique_ptr<bound_expr>;
  using K = bound_expr::kind;

  /// A piece of expression: its text, what it means, and how tightly its text binds (0: an
  /// `or`, 1: an `and`, 2: anything else), to know where parentheses are needed.
  struct piece {
    std::string text;
    node_ptr node;
    int prec = 2;
  };
  /// A literal: its text and its value.
  struct lit {
    std::string text;
    literal value;
  };

  /// A deep copy of a bound tree.
  static node_ptr clone(const bound_expr& e) {
    auto n = std::make_unique<bound_expr>();
    n->k = e.k;
    n->pos = e.pos;
    n->context = e.context;
    n->constant = e.constant;
    n->attr = e.attr;
    n->attr2 = e.attr2;
    n->op = e.op;
    n->value = e.value;
    n->hi = e.hi;
    n->values = e.values;
    n->negated = e.negated;
    n->case_insensitive = e.case_insensitive;
    n->rel = e.rel;
    n->quant = e.quant;
    n->fn = e.fn;
    n->test = e.test;
    n->segment = e.segment;
    n->bucket = e.bucket;
    n->within_us = e.within_us;
    n->top_n = e.top_n;
    n->order = e.order;
    n->per_link = e.per_link;
    for (const auto& c : e.children) n->children.push_back(clone(*c));
    return n;
  }

  /// Puts the definitions in a random order: references then also go forwards. Segment indices
  /// in the meant trees follow; `order` stays the generation order (references go backwards).
  void shuffle(generated_segments& out) {
    const std::size_t n = out.names.size();
    std::vector<std::uint32_t> at(n);  // generation index -> position in the file
    for (std::size_t i = 0; i < n; ++i) at[i] = static_cast<std::uint32_t>(i);
    for (std::size_t k = n; k > 1; --k) std::swap(at[k - 1], at[r_.below(k)]);
    generated_segments s;
    s.meant.file = out.meant.file;
    s.names.resize(n);
    s.definitions.resize(n);
    s.meant.segments.resize(n);
    std::function<void(bound_expr&)> remap = [&](bound_expr& e) {
      if (e.k == K::in_segment) e.segment = at[e.segment];
      for (auto& c : e.children) remap(*c);
    };
    for (std::size_t i = 0; i < n; ++i) {
      s.names[at[i]] = out.names[i];
      s.definitions[at[i]] = out.definitions[i];
      remap(*out.meant.segments[i].where);
      s.meant.segments[at[i]] = std::move(out.meant.segments[i]);
      s.meant.order.push_back(at[i]);
    }
    for (const auto& d : s.definitions) s.text += d + "\n\n";
    out = std::move(s);
  }

  static node_ptr make(K k, entity_id ctx) {
    auto n = std::make_unique<bound_expr>();
    n->k = k;
    n->context = ctx;
    return n;
  }

  /// Appends `segmentation NAME on E bucket ... [else ...]` (SPEC 3.5) and what each of its
  /// buckets means: its own condition and none of the earlier buckets' (`not in_segment`).
  /// Its conditions reference no other segment (the file may have been shuffled, and indices
  /// of `defined_` and of the pieces kept for reuse are those before).
  void segmentation(generated_segments& out, const std::vector<entity_id>& keyed) {
    const entity_id on = keyed[r_.below(keyed.size())];
    const std::string name = "g" + std::to_string(out.names.size());
    std::string text = "segmentation " + ident(name) + " on " + ident(s_.entities[on].name);
    const int buckets = static_cast<int>(r_.range(1, 3));
    const bool with_else = r_.chance(0.6);
    const std::uint32_t first = static_cast<std::uint32_t>(out.names.size());
    auto saved = std::move(defined_);  // nor may pieces of earlier definitions come back
    auto saved_pool = std::move(pool_);
    defined_.clear();
    pool_.clear();
    for (int b = 0; b <= buckets; ++b) {
      const bool last = b == buckets;
      if (last && !with_else) break;
      const std::string bucket = last ? "rest" : "b" + std::to_string(b);
      auto all = make(K::and_, on);
      if (!last) {
        piece p = expr(on, static_cast<int>(r_.range(0, std::max(0, opts_.max_depth - 1))));
        text += brk() + "bucket " + bucket + " where " + p.text;
        all->children.push_back(std::move(p.node));
      } else {
        text += brk() + "else " + bucket;
      }
      for (int k = 0; k < b; ++k) {
        auto in = make(K::in_segment, on);
        in->attr.entity = on;
        in->segment = first + static_cast<std::uint32_t>(k);
        auto no = make(K::not_, on);
        no->children.push_back(std::move(in));
        all->children.push_back(std::move(no));
      }
      bound_segment seg;
      seg.name = name + "." + bucket;
      seg.entity = on;
      seg.where = all->children.size() == 1 ? std::move(all->children[0]) : std::move(all);
      out.names.push_back(seg.name);
      out.definitions.push_back(b == 0 ? text : "");
      out.meant.order.push_back(static_cast<std::uint32_t>(out.meant.segments.size()));
      out.meant.segments.push_back(std::move(seg));
    }
    defined_ = std::move(saved);
    pool_ = std::move(saved_pool);
    out.definitions[first] = text;
    out.text += text + "\n\n";
  }

  /// `rel.sequence(TS, P1 then P2 ... [within D])` over a relation of `ctx` whose rows have a
  /// timestamp attribute.
  std::optional<piece> sequence(entity_id ctx, int depth) {
    const auto& revs = s_.entities[ctx].reverses;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> cands;  // (reverse, timestamp attribute)
    for (std::uint32_t r = 0; r < revs.size(); ++r) {
      const auto& attrs = s_.entities[revs[r].source].attributes;
      for (std::uint32_t a = 0; a < attrs.size(); ++a)
        if (attrs[a].type == value_type::timestamp) cands.emplace_back(r, a);
    }
    if (cands.empty()) return std::nullopt;
    const auto [rv, ts] = cands[r_.below(cands.size())];
    const reverse_def& rd = revs[rv];
    piece out{"", make(K::sequence, ctx), 2};
    out.node->rel.owner = ctx;
    out.node->rel.reverse = rv;
    out.node->rel.source = rd.source;
    out.node->rel.link = rd.link;
    out.node->attr.entity = rd.source;
    out.node->attr.attribute = ts;
    out.node->attr.type = value_type::timestamp;
    out.text =
        ident(rd.name) + ".sequence(" + ident(s_.entities[rd.source].attributes[ts].name) + ",";
    const int steps = static_cast<int>(r_.range(1, 3));
    for (int i = 0; i < steps; ++i) {
      piece c = expr(rd.source, std::max(0, depth));
      out.text += (i ? " then (" : " (") + c.text + ")";
      out.node->children.push_back(std::move(c.node));
    }
    if (r_.chance(0.5)) {
      std::int64_t us = 0;
      out.text += " within " + duration(us);
      out.node->within_us = us;
    }
    out.text += ")";
    return out;
  }

  /// `top(N, by A [asc|desc] ..., [per LINK,] [where P])` over `ctx`, if it has a key and an
  /// attribute to rank by.
  std::optional<piece> top(entity_id ctx, int depth) {
    const entity_def& def = s_.entities[ctx];
    std::vector<std::uint32_t> keys;
    for (std::uint32_t a = 0; a < def.attributes.size(); ++a)
      if (def.attributes[a].type != value_type::string_list) keys.push_back(a);
    if (!def.key || keys.empty()) return std::nullopt;
    piece out{"", make(K::top, ctx), 2};
    const std::uint64_t n = r_.chance(0.1) ? 1000000 : static_cast<std::uint64_t>(r_.range(1, 4));
    out.node->top_n = n;
    out.text = "top(" + std::to_string(n);
    const int k = static_cast<int>(r_.range(1, 2));
    for (int i = 0; i < k; ++i) {
      const std::uint32_t a = keys[r_.below(keys.size())];
      const int dir = static_cast<int>(r_.below(3));  // none, asc, desc
      out.text += ", by " + ident(def.attributes[a].name) +
                  (dir == 1   ? " asc"
                   : dir == 2 ? " desc"
                              : "");
      out.node->order.push_back({a, def.attributes[a].type, dir == 2});
    }
    if (!def.links.empty() && r_.chance(0.6)) {
      const auto l = static_cast<std::uint32_t>(r_.below(def.links.size()));
      out.text += ", per " + ident(def.links[l].name);
      out.node->per_link = static_cast<int>(l);
    }
    if (r_.chance(0.5)) {
      piece c = expr(ctx, std::max(0, depth));
      out.text += ", where " + c.text;
      out.node->children.push_back(std::move(c.node));
    }
    out.text += ")";
    return out;
  }

  /// `bucket("SALT", N) op value` (or `in`, `between`) over `ctx`'s key, if it has one.
  std::optional<piece> bucket_test(entity_id ctx) {
    if (!s_.entities[ctx].key) return std::nullopt;
    static const char* salts[] = {"", "q4-holdout", "a", "\\\"x\\\""};
    const std::uint64_t n =
        r_.chance(0.1) ? (std::uint64_t(1) << 31) : static_cast<std::uint64_t>(r_.range(1, 10));
    const char* salt = salts[r_.below(4)];
    std::string subject = "bucket(\"" + std::string(salt) + "\"," + sp() + std::to_string(n) + ")";
    std::string salt_value;  // the salt's bytes (the text has escapes)
    for (const char* c = salt; *c; ++c)
      if (*c != '\\') salt_value += *c;
    auto val = [&] { return int_lit(static_cast<std::int64_t>(r_.below(n + 1))); };
    const double u = r_.unit();
    piece out{"", make(u < 0.6 ? K::compare : u < 0.8 ? K::in_list : K::between, ctx), 2};
    out.node->bucket = bucket_ref{salt_value, n};
    out.node->attr.entity = ctx;
    out.node->attr.type = value_type::integer;
    if (u < 0.6) {
      const auto [op_text, op] = cmp_operator();
      const lit l = val();
      out.text = subject + osp() + op_text + osp() + l.text;
      out.node->op = op;
      out.node->value = l.value;
    } else if (u < 0.8) {
      const bool neg = r_.chance(0.3);
      out.node->negated = neg;
      out.text = subject + sp() + (neg ? "not in" : "in") + sp() + "(";
      const int k = static_cast<int>(r_.range(1, 3));
      for (int i = 0; i < k; ++i) {
        const lit l = val();
        out.text += (i ? "," + sp() : "") + l.text;
        out.node->values.push_back(l.value);
      }
      out.text += ")";
    } else {
      const lit lo = val(), hi = val();
      out.text = subject + sp() + "between" + sp() + lo.text + sp() + "and" + sp() + hi.text;
      out.node->value = lo.value;
      out.node->hi = hi.value;
    }
    return out;
  }

  // --- spelling ------------------------------------------------------------------------------
  static bool is_keyword(std::string_view s) {
    static const char* k[] = {"segment", "on",   "where", "and", "or",     "not",         "in",
                              "between", "like", "ilike", "is",  "null",   "true",        "false",
                              "within",  "last", "next",  "now", "bucket", "else",        "then",
                              "top",     "by",   "per",   "asc", "desc",   "segmentation"};
    for (const char* w : k)
      if (s == w) return true;
    return false;
  }

  /// A name: in backticks when it is a keyword, and now and then when it is not.
  std::string ident(const std::string& n) {
    if (is_keyword(n) || r_.chance(0.03)) return "`" + n + "`";
    return n;
  }

  /// The space between two tokens: usually one blank, sometimes more, a line break or a comment.
  std::string sp() {
    if (!r_.chance(opts_.spacing)) return " ";
    switch (r_.below(4)) {
      case 0:
        return "  ";
      case 1:
        return "\n      ";
      case 2:
        return "\t";
      default:
        return "  # why not\n    ";
    }
  }
  std::string brk() { return r_.chance(0.5) ? "\n    " : " "; }
  /// The space around a comparison operator: sometimes none (`score>=5`).
  std::string osp() { return r_.chance(0.1) ? "" : sp(); }

  /// A string literal for bytes `s`: escapes quotes, backslashes and control characters, and
  /// writes some non-ASCII characters as \uXXXX (surrogate pairs above U+FFFF).
  std::string quote(std::string_view s) {
    std::string out = "\"";
    const bool unicode_escapes = r_.chance(0.2);
    for (std::string_view ch : utf8_characters(s)) {
      const auto c = static_cast<unsigned char>(ch[0]);
      if (ch == "\"")
        out += "\\\"";
      else if (ch == "\\")
        out += "\\\\";
      else if (ch == "\n")
        out += "\\n";
      else if (ch == "\t")
        out += "\\t";
      else if (c < 0x20 || (ch.size() == 1 && c == 0x7F))
        out += hex_escape(c);
      else if (c >= 0x80 && unicode_escapes && ch.size() > 1)
        out += unicode_escape(ch);
      else if (c < 0x80 && unicode_escapes && r_.chance(0.1))
        out += hex_escape(c);
      else
        out += ch;
    }
    return out + "\"";
  }
  static std::string hex_escape(std::uint32_t cp) {
    char b[16];
    std::snprintf(b, sizeof b, "\\u%04X", cp);
    return b;
  }
  static std::string unicode_escape(std::string_view ch) {
    const auto b0 = static_cast<unsigned char>(ch[0]);
    std::uint32_t cp = ch.size() == 2 ? b0 & 0x1F : ch.size() == 3 ? b0 & 0x0F : b0 & 0x07;
    for (std::size_t i = 1; i < ch.size(); ++i)
      cp = (cp << 6) | (static_cast<unsigned char>(ch[i]) & 0x3F);
    if (cp < 0x10000) return hex_escape(cp);
    cp -= 0x10000;
    return hex_escape(0xD800 + (cp >> 10)) + hex_escape(0xDC00 + (cp & 0x3FF));
  }

  // --- literals ------------------------------------------------------------------------------
  lit string_lit(const std::string& s) {
    lit l{quote(s), {}};
    l.value.type = value_type::string;
    l.value.s = s;
    return l;
  }
  static lit bool_lit(bool b) {
    lit l{b ? "true" : "false", {}};
    l.value.type = value_type::boolean;
    l.value.b = b;
    return l;
  }
  static lit int_lit(std::int64_t x) {
    lit l{std::to_string(x), {}};
    l.value.type = value_type::integer;
    l.value.integral = true;
    l.value.i = x;
    l.value.f = static_cast<double>(x);
    return l;
  }
  /// A number written as `text`: an integer when it is only digits (and a sign), else the
  /// double nearest to the decimal (as strtod reads it).
  static lit number_lit(const std::string& text) {
    lit l{text, {}};
    if (text.find_first_of(".eE") == std::string::npos) {
      l.value.type = value_type::integer;
      l.value.integral = true;
      l.value.i = std::strtoll(text.c_str(), nullptr, 10);
      l.value.f = static_cast<double>(l.value.i);
    } else {
      l.value.type = value_type::floating;
      l.value.f = std::strtod(text.c_str(), nullptr);
    }
    return l;
  }
  /// A decimal literal for `x` that reads back as `x`; never an integer token too large for
  /// int64 (`1e19`, not `10000000000000000000`).
  lit float_lit(double x) {
    std::string t = double_text(x);
    if (t.find_first_of(".eE") == std::string::npos && (x >= 9.2e18 || x <= -9.2e18)) {
      char b[64];
      std::snprintf(b, sizeof b, "%.17e", x);
      t = b;
    }
    if (r_.chance(0.1) && t.size() > 2 && t[0] == '0' && t[1] == '.') t = t.substr(1);  // ".5"
    return number_lit(t);
  }
  static lit ts_lit(timestamp_us t, std::string text) {
    lit l{std::move(text), {}};
    l.value.type = value_type::timestamp;
    l.value.t = t;
    return l;
  }
  static lit ts_lit(timestamp_us t) { return ts_lit(t, "@" + tstext::iso_utc(t)); }

  /// A duration: its text and microseconds.
  std::string duration(std::int64_t& us) {
    struct unit {
      const char* one;
      const char* many;
      std::int64_t us;
    };
    static const unit units[] = {{"week", "weeks", 7 * tstext::us_per_day},
                                 {"day", "days", tstext::us_per_day},
                                 {"hour", "hours", 3600 * tstext::us_per_second},
                                 {"minute", "minutes", 60 * tstext::us_per_second},
                                 {"second", "seconds", tstext::us_per_second}};
    static const std::int64_t day_counts[] = {0, 1, 7, 30, 90, 365, 2, 400};
    if (r_.chance(0.6)) {  // the day counts the data sits on
      const std::int64_t n = day_counts[r_.below(8)];
      us = n * tstext::us_per_day;
      if (r_.chance(0.2) && n % 7 == 0 && n)
        return std::to_string(n / 7) + (n == 7 ? " week" : " weeks");
      if (r_.chance(0.1)) return std::to_string(n * 24) + " hours";
      return std::to_string(n) + (n == 1 ? " day" : " days");
    }
    const unit& u = units[r_.below(5)];
    if (r_.chance(0.03)) {
      // Near the largest duration that fits: `now +- D` leaves the int64 range and must hold at
      // its ends (every timestamp is before `now + D`, after `now - D`).
      const std::int64_t n = INT64_MAX / u.us - static_cast<std::int64_t>(r_.below(3));
      us = n * u.us;
      return std::to_string(n) + " " + u.many;
    }
    if (r_.chance(0.2)) {
      const std::int64_t halves = r_.range(1, 40);
      us = halves * u.us / 2;  // exact: every unit is even in microseconds
      return std::to_string(halves / 2) + (halves % 2 ? ".5 " : ".0 ") + u.many;
    }
    const std::int64_t n = r_.range(0, u.us >= tstext::us_per_day ? 100 : 5000);
    us = n * u.us;
    return std::to_string(n) + " " + (n == 1 ? u.one : u.many);
  }

  /// `now`, `now - D` or `now + D`.
  lit now_lit() {
    lit l;
    l.value.type = value_type::timestamp;
    l.value.relative = true;
    if (r_.chance(0.15)) {
      l.text = "now";
      return l;
    }
    std::int64_t us = 0;
    const std::string d = duration(us);
    const bool minus = r_.chance(0.7);
    l.text = std::string("now") + (minus ? " - " : " + ") + d;
    l.value.offset_us = minus ? -us : us;
    return l;
  }

  // --- the graph's values --------------------------------------------------------------------
  /// A random non-null row of attribute `a` of `e`, if one is found quickly.
  std::optional<row_id> sample(entity_id e, std::uint32_t a) {
    const std::size_t n = g_.rows(e);
    if (n == 0) return std::nullopt;
    const column& c = g_.attribute(e, a);
    for (int k = 0; k < 12; ++k) {
      const auto r = static_cast<row_id>(r_.below(n));
      if (!c.is_null(r)) return r;
    }
    return std::nullopt;
  }

  std::string word_of_vocabulary() {
    const auto& v = detail_gen::vocabulary();
    return v[r_.below(v.size())];
  }

  std::string mutate_string(std::string s) {
    switch (r_.below(6)) {
      case 0:
        return s + "x";
      case 1: {  // drop the last character
        const auto chars = utf8_characters(s);
        return chars.empty() ? s : s.substr(0, s.size() - chars.back().size());
      }
      case 2:
        for (char& c : s) {
          if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
          else if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
        }
        return s;
      case 3:
        return "";
      case 4:
        return s + "\xF0\x9F\x9A\x80";
      default:
        return word_of_vocabulary();
    }
  }

  /// A string from the column (a list element for string[]), or made up.
  std::string string_value(entity_id e, std::uint32_t a) {
    auto row = sample(e, a);
    if (!row) return r_.chance(0.5) ? word_of_vocabulary() : "";
    const column& c = g_.attribute(e, a);
    std::string s;
    if (c.type() == value_type::string) {
      s = std::string(c.string_at(*row));
    } else {
      auto l = c.list_at(*row);
      s = std::string(c.dictionary()[l[r_.below(l.size())]]);
    }
    if (r_.chance(0.2)) s = mutate_string(s);
    return s;
  }

  /// A literal that fits attribute `a` of `e` (type `t`), usually one of its values.
  lit literal_for(entity_id e, std::uint32_t a, value_type t) {
    switch (t) {
      case value_type::string:
      case value_type::string_list:
        return string_lit(string_value(e, a));
      case value_type::boolean:
        return bool_lit(r_.chance(0.5));
      case value_type::integer: {
        auto row = sample(e, a);
        std::int64_t x = row ? g_.attribute(e, a).ints()[*row] : r_.range(-10, 1000);
        if (r_.chance(0.2)) {
          const std::int64_t d = r_.range(-1, 1);
          if ((d > 0 && x < INT64_MAX) || (d < 0 && x > INT64_MIN)) x += d;
        }
        if (r_.chance(0.03)) {
          static const char* edges[] = {"1e300",
                                        "-1e300",
                                        "1e19",
                                        "-1e19",
                                        "9.2233720368547758e18",
                                        "-9.2233720368547758e18",
                                        "9223372036854775806.5"};
          return number_lit(edges[r_.below(opts_.extreme_int_literals ? 7 : 4)]);
        }
        const std::int64_t far = std::int64_t(1) << 62;
        if (!opts_.extreme_int_literals && (x > far || x < -far)) x /= 4;
        if (r_.chance(0.1))
          return float_lit(static_cast<double>(x) + (r_.chance(0.5) ? 0.5 : -0.25));
        if (r_.chance(0.05)) {
          lit l = float_lit(static_cast<double>(x));
          if (l.value.type == value_type::floating) return l;
        }
        if (r_.chance(0.02) && opts_.extreme_int_literals)
          return int_lit(r_.chance(0.5) ? INT64_MAX : INT64_MIN);
        return int_lit(x);
      }
      case value_type::floating: {
        auto row = sample(e, a);
        double x =
            row ? g_.attribute(e, a).floats()[*row] : static_cast<double>(r_.range(-10, 1000));
        if (r_.chance(0.1) && x > -1e15 && x < 1e15) return int_lit(static_cast<std::int64_t>(x));
        if (r_.chance(0.1)) x = x + 0.5;
        if (r_.chance(0.05) && opts_.big_ints_on_floats) return int_lit(9007199254740993);
        return float_lit(x);
      }
      case value_type::timestamp: {
        if (r_.chance(0.35)) return now_lit();
        auto row = sample(e, a);
        timestamp_us x = row ? g_.attribute(e, a).ints()[*row] : as_of_;
        if (r_.chance(0.15)) x += r_.chance(0.5) ? 1 : -1000;
        if (r_.chance(0.2)) {  // a date only, or a local time with an offset
          std::string date, time, frac;
          tstext::split(x, date, time, frac);
          if (r_.chance(0.5)) {
            long long y = 0;
            int m = 0, d = 0;
            std::sscanf(date.c_str(), "%lld-%d-%d", &y, &m, &d);
            return ts_lit(tstext::days_from_date(y, m, d) * tstext::us_per_day, "@" + date);
          }
          return ts_lit(x, "@" + tstext::any_form(x, r_, false));
        }
        return ts_lit(x);
      }
    }
    return int_lit(0);
  }

  /// A LIKE pattern: usually built from a value of the column, with characters turned into `_`,
  /// runs into `%`, metacharacters escaped (and some ordinary ones too).
  std::string like_pattern(entity_id e, std::uint32_t a, bool ci) {
    if (r_.chance(0.1)) {
      static const char* fixed[] = {"%", "_", "%%", "", "%a%", "\\%", "%\\_%", "_%_", "%5%"};
      return fixed[r_.below(9)];
    }
    const std::string v = string_value(e, a);
    std::string p;
    if (r_.chance(0.3)) p += "%";
    const auto chars = utf8_characters(v);
    for (std::size_t i = 0; i < chars.size(); ++i) {
      std::string ch(chars[i]);
      const double u = r_.unit();
      if (u < 0.1) {
        p += "_";
      } else if (u < 0.18) {
        p += "%";
        i += r_.below(3);
      } else {
        if (ci && ch.size() == 1 && r_.chance(0.3)) {
          char& c = ch[0];
          if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
          else if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
        }
        if (ch == "%" || ch == "_" || ch == "\\" || r_.chance(0.03)) p += "\\";
        p += ch;
      }
    }
    if (r_.chance(0.3)) p += "%";
    return p;
  }

  // --- paths ---------------------------------------------------------------------------------
  struct path {
    std::string text;  ///< "link.link." (with the dot), empty for the context itself
    entity_id end = no_entity;
    std::vector<link_hop> hops;
  };

  path hop(const path& p, std::uint32_t l) {
    path q = p;
    const link_def& ld = s_.entities[p.end].links[l];
    q.text += ident(ld.name) + ".";
    q.hops.push_back({p.end, l});
    q.end = ld.target;
    return q;
  }

  /// Up to `max_hops` to-one hops from `e`, stopping at random.
  path to_one_path(entity_id e, int max_hops, double go_on = 0.35) {
    path p{"", e, {}};
    for (int h = 0; h < max_hops && r_.chance(go_on); ++h) {
      const auto& links = s_.entities[p.end].links;
      if (links.empty()) break;
      p = hop(p, static_cast<std::uint32_t>(r_.below(links.size())));
    }
    return p;
  }

  /// Every to-one path of 1..max_hops hops from the end of `from`.
  void all_paths(const path from, int max_hops, std::vector<path>& out) {  // a copy: `out` grows
    if (max_hops == 0) return;
    for (std::uint32_t l = 0; l < s_.entities[from.end].links.size(); ++l) {
      path next = hop(from, l);
      out.push_back(next);
      all_paths(next, max_hops - 1, out);
    }
  }

  attr_ref attr_at(const path& p, std::uint32_t a) const {
    attr_ref r;
    r.path = p.hops;
    r.entity = p.end;
    r.attribute = a;
    r.type = s_.entities[p.end].attributes[a].type;
    return r;
  }

  // --- expressions ---------------------------------------------------------------------------
  /// `c` as an operand that must bind at least as tightly as `prec`: in parentheses when it
  /// would not, and now and then when it would.
  std::string operand(const piece& c, int prec) {
    return c.prec < prec || r_.chance(0.1) ? "(" + c.text + ")" : c.text;
  }

  /// An expression over `ctx`; now and then one written before in this file (or its negation),
  /// so that equal sub-expressions meet in the planner (`x and not x`, shared nodes).
  piece expr(entity_id ctx, int depth) {
    if (r_.chance(0.06)) {
      std::vector<const piece*> same;
      for (const auto& p : pool_)
        if (p.second.node->context == ctx) same.push_back(&p.second);
      if (!same.empty()) {
        const piece& old = *same[r_.below(same.size())];
        if (r_.chance(0.5)) return piece{old.text, clone(*old.node), old.prec};
        piece out{"not" + sp() + "(" + old.text + ")", make(K::not_, ctx), 2};
        out.node->children.push_back(clone(*old.node));
        return out;
      }
    }
    piece p = fresh_expr(ctx, depth);
    if (pool_.size() < 400) pool_.emplace_back(ctx, piece{p.text, clone(*p.node), p.prec});
    return p;
  }

  piece fresh_expr(entity_id ctx, int depth) {
    const double u = r_.unit();
    if (depth > 0 && u < 0.35) {
      const bool is_and = r_.chance(0.55);
      const int n = static_cast<int>(r_.range(2, 3));
      piece out{"", make(is_and ? K::and_ : K::or_, ctx), is_and ? 1 : 0};
      for (int i = 0; i < n; ++i) {
        if (i) out.text += sp() + (is_and ? "and" : "or") + sp();
        piece c = expr(ctx, depth - 1);
        out.text += operand(c, is_and ? 1 : 0);
        out.node->children.push_back(std::move(c.node));
      }
      return out;
    }
    if (depth > 0 && u < 0.47) {
      piece c = expr(ctx, depth - 1);
      piece out{"not" + sp() + operand(c, 2), make(K::not_, ctx), 2};
      out.node->children.push_back(std::move(c.node));
      return out;
    }
    return leaf(ctx, depth);
  }

  piece constant(entity_id ctx) {
    const bool b = r_.chance(0.5);
    piece p{b ? "true" : "false", make(K::constant, ctx), 2};
    p.node->constant = b;
    return p;
  }

  piece leaf(entity_id ctx, int depth) {
    const double u = r_.unit();
    if (u < 0.04) return constant(ctx);
    if (u < 0.30 && depth > 0) {
      if (auto s = relation(ctx, depth - 1)) return std::move(*s);
    }
    if (u < 0.38) {
      if (auto s = compare_attrs(ctx)) return std::move(*s);
    }
    if (u < 0.43) {
      if (auto s = link_null(ctx)) return std::move(*s);
    }
    if (u < 0.51) {
      if (auto s = in_segment(ctx)) return std::move(*s);
    }
    if (u < 0.58) {  // relations without a condition are leaves too
      if (auto s = relation(ctx, -1)) return std::move(*s);
    }
    if (r_.chance(opts_.bucket)) {
      if (auto s = bucket_test(ctx)) return std::move(*s);
    }
    if (r_.chance(opts_.sequence) && depth > 0) {
      if (auto s = sequence(ctx, depth - 1)) return std::move(*s);
    }
    if (r_.chance(opts_.top)) {
      if (auto s = top(ctx, depth - 1)) return std::move(*s);
    }
    if (auto s = attribute_predicate(ctx)) return std::move(*s);
    if (auto s = relation(ctx, -1)) return std::move(*s);
    return constant(ctx);  // an entity without attributes or relations
  }

  std::pair<std::string, cmp_op> cmp_operator() {
    static const char* texts[] = {"=", "!=", "<", "<=", ">", ">="};
    static const cmp_op ops[] = {cmp_op::eq, cmp_op::ne, cmp_op::lt,
                                 cmp_op::le, cmp_op::gt, cmp_op::ge};
    const auto i = r_.below(6);
    return {texts[i], ops[i]};
  }

  std::optional<piece> attribute_predicate(entity_id ctx) {
    path p = to_one_path(ctx, 3);
    if (s_.entities[p.end].attributes.empty()) {
      p = path{"", ctx, {}};
      if (s_.entities[ctx].attributes.empty()) return std::nullopt;
    }
    const entity_id e = p.end;
    const auto a = static_cast<std::uint32_t>(r_.below(s_.entities[e].attributes.size()));
    const attr_ref ref = attr_at(p, a);
    const value_type t = ref.type;
    const std::string subject = p.text + ident(s_.entities[e].attributes[a].name);
    const double u = r_.unit();
    if (u < 0.08) {
      const bool neg = r_.chance(0.5);
      piece out{subject + sp() + (neg ? "is not null" : "is null"), make(K::is_null, ctx), 2};
      out.node->attr = ref;
      out.node->negated = neg;
      return out;
    }
    if (t == value_type::boolean && u < 0.35) {  // a bool alone
      piece out{subject, make(K::compare, ctx), 2};
      out.node->attr = ref;
      out.node->op = cmp_op::eq;
      out.node->value = bool_lit(true).value;
      return out;
    }
    if (u < 0.45) {
      const bool neg = r_.chance(0.3);
      piece out{subject + sp() + (neg ? "not in" : "in") + sp() + "(", make(K::in_list, ctx), 2};
      out.node->attr = ref;
      out.node->negated = neg;
      const int n = static_cast<int>(r_.range(1, 4));
      for (int i = 0; i < n; ++i) {
        lit l = literal_for(e, a, t);
        out.text += (i ? "," + sp() : "") + l.text;
        out.node->values.push_back(l.value);
      }
      out.text += ")";
      return out;
    }
    if (u < 0.55) {
      lit lo = literal_for(e, a, t), hi = literal_for(e, a, t);
      piece out{subject + sp() + "between" + sp() + lo.text + sp() + "and" + sp() + hi.text,
                make(K::between, ctx), 2};
      out.node->attr = ref;
      out.node->value = lo.value;
      out.node->hi = hi.value;
      return out;
    }
    if (u < 0.68 && (t == value_type::string || t == value_type::string_list)) {
      const bool ci = r_.chance(0.4);
      const std::string pat = like_pattern(e, a, ci);
      piece out{subject + sp() + (ci ? "ilike" : "like") + sp() + quote(pat), make(K::like, ctx),
                2};
      out.node->attr = ref;
      out.node->case_insensitive = ci;
      out.node->value = string_lit(pat).value;
      return out;
    }
    if (u < 0.72 && t == value_type::timestamp) {
      std::int64_t us = 0;
      const std::string d = duration(us);
      const bool next = r_.chance(0.4);
      piece out{subject + sp() + "within" + sp() + (next ? "next" : "last") + sp() + d,
                make(K::between, ctx), 2};
      out.node->attr = ref;
      out.node->value.type = out.node->hi.type = value_type::timestamp;
      out.node->value.relative = out.node->hi.relative = true;
      out.node->value.offset_us = next ? 0 : -us;
      out.node->hi.offset_us = next ? us : 0;
      return out;
    }
    const auto [op_text, op] = cmp_operator();
    lit l = literal_for(e, a, t);
    piece out{subject + osp() + op_text + osp() + l.text, make(K::compare, ctx), 2};
    out.node->attr = ref;
    out.node->op = op;
    out.node->value = l.value;
    return out;
  }

  std::optional<piece> compare_attrs(entity_id ctx) {
    std::vector<path> paths{{"", ctx, {}}};
    all_paths(paths[0], 2, paths);
    struct choice {
      std::string text;
      attr_ref ref;
    };
    std::vector<choice> cands;
    for (const path& p : paths)
      for (std::uint32_t a = 0; a < s_.entities[p.end].attributes.size(); ++a) {
        const auto& ad = s_.entities[p.end].attributes[a];
        if (ad.type == value_type::string_list) continue;
        cands.push_back({p.text + ident(ad.name), attr_at(p, a)});
      }
    if (cands.empty()) return std::nullopt;
    const choice& left = cands[r_.below(cands.size())];
    auto number = [](value_type t) {
      return t == value_type::integer || t == value_type::floating;
    };
    std::vector<const choice*> right;
    for (const auto& c : cands)
      if (c.ref.type == left.ref.type ||
          (opts_.mixed_number_attrs && number(c.ref.type) && number(left.ref.type)))
        right.push_back(&c);
    // Prefer the other side to be a different attribute, but allow `x op x`.
    const choice* r = right[r_.below(right.size())];
    if (r->text == left.text && right.size() > 1 && r_.chance(0.8))
      r = right[r_.below(right.size())];
    const auto [op_text, op] = cmp_operator();
    piece out{left.text + osp() + op_text + osp() + r->text, make(K::compare_attrs, ctx), 2};
    out.node->attr = left.ref;
    out.node->attr2 = r->ref;
    out.node->op = op;
    return out;
  }

  std::optional<piece> link_null(entity_id ctx) {
    path p = to_one_path(ctx, 2);
    if (s_.entities[p.end].links.empty()) {
      p = path{"", ctx, {}};
      if (s_.entities[ctx].links.empty()) return std::nullopt;
    }
    const auto l = static_cast<std::uint32_t>(r_.below(s_.entities[p.end].links.size()));
    const path q = hop(p, l);
    const bool neg = r_.chance(0.5);
    piece out{q.text.substr(0, q.text.size() - 1) + sp() + (neg ? "is not null" : "is null"),
              make(K::link_is_null, ctx), 2};
    out.node->attr.path = q.hops;
    out.node->attr.entity = q.end;
    out.node->negated = neg;
    return out;
  }

  std::optional<piece> in_segment(entity_id ctx) {
    std::vector<path> paths{{"", ctx, {}}};
    all_paths(paths[0], 2, paths);
    std::vector<std::pair<const path*, std::uint32_t>> cands;  // (path, segment index)
    for (std::uint32_t d = 0; d < defined_.size(); ++d)
      for (const path& p : paths)
        if (p.end == defined_[d].second) cands.emplace_back(&p, d);
    if (cands.empty()) return std::nullopt;
    const auto& c = cands[r_.below(cands.size())];
    piece out{c.first->text + "in_segment(" + quote(defined_[c.second].first) + ")",
              make(K::in_segment, ctx), 2};
    out.node->attr.path = c.first->hops;
    out.node->attr.entity = c.first->end;
    out.node->segment = c.second;
    return out;
  }

  /// The aggregate of `a` over the children of a random owner (all of them, nulls skipped), so
  /// that a test against it can hold with equality.
  std::optional<lit> sample_aggregate(entity_id owner, entity_id src, std::uint32_t link,
                                      std::uint32_t a, aggregate_fn fn) {
    if (g_.rows(owner) == 0) return std::nullopt;
    const column& c = g_.attribute(src, a);
    const auto o = static_cast<row_id>(r_.below(g_.rows(owner)));
    std::int64_t n = 0, imin = 0, imax = 0;
    __int128 isum = 0;  // exact: sums of huge ints are tested too
    double fsum = 0, fmin = 0, fmax = 0;
    const bool fl = c.type() == value_type::floating;
    g_.link(src, link).for_each_child(o, [&](row_id ch) {
      if (c.is_null(ch)) return;
      if (fl) {
        const double x = c.floats()[ch];
        fsum += x;
        if (!n || x < fmin) fmin = x;
        if (!n || x > fmax) fmax = x;
      } else {
        const std::int64_t x = c.ints()[ch];
        isum += x;
        if (!n || x < imin) imin = x;
        if (!n || x > imax) imax = x;
      }
      ++n;
    });
    if (n == 0) return std::nullopt;
    const bool ts = c.type() == value_type::timestamp;
    auto fits = [](__int128 v) { return v >= INT64_MIN && v <= INT64_MAX; };
    switch (fn) {
      case aggregate_fn::sum:
        if (fl) return float_lit(fsum);
        // Beyond int64 only a float literal can stand near it.
        return fits(isum) ? int_lit(static_cast<std::int64_t>(isum))
                          : float_lit(static_cast<double>(isum));
      case aggregate_fn::avg: {
        if (fl) return float_lit(fsum / static_cast<double>(n));
        __int128 q = isum / n;  // the average of int64 values is an int64
        if (ts) return ts_lit(static_cast<timestamp_us>(q));
        if (isum % n == 0) return int_lit(static_cast<std::int64_t>(q));
        return float_lit(static_cast<double>(static_cast<long double>(isum) / n));
      }
      case aggregate_fn::min:
        return ts ? ts_lit(imin) : fl ? float_lit(fmin) : int_lit(imin);
      case aggregate_fn::max:
        return ts ? ts_lit(imax) : fl ? float_lit(fmax) : int_lit(imax);
      default:
        return std::nullopt;
    }
  }

  lit count_lit() {
    if (r_.chance(0.1)) return float_lit(static_cast<double>(r_.range(0, 8)) / 2.0);
    if (r_.chance(0.05)) return r_.chance(0.5) ? int_lit(-1) : int_lit(INT64_MAX);
    return int_lit(static_cast<std::int64_t>(r_.skewed(6, 1.5)));
  }

  /// `op v` or `between lo and hi`, after a count or an aggregate.
  std::string number_test_text(const std::function<lit()>& make_lit, number_test& t) {
    if (r_.chance(0.2)) {
      lit lo = make_lit(), hi = make_lit();
      t.between = true;
      t.value = lo.value;
      t.hi = hi.value;
      return "between" + sp() + lo.text + sp() + "and" + sp() + hi.text;
    }
    const auto [op_text, op] = cmp_operator();
    lit v = make_lit();
    t.op = op;
    t.value = v.value;
    return op_text + sp() + v.text;
  }

  /// `rel.any/none/all(...)`, `rel.count(...) test`, `rel[.where(P)].fn(attr) test`. `depth` is
  /// what conditions inside may use; below 0, no condition is written.
  std::optional<piece> relation(entity_id ctx, int depth) {
    path p = to_one_path(ctx, 2, 0.25);
    if (s_.entities[p.end].reverses.empty()) p = path{"", ctx, {}};
    const auto& revs = s_.entities[p.end].reverses;
    if (revs.empty()) return std::nullopt;
    const auto rv_index = static_cast<std::uint32_t>(r_.below(revs.size()));
    const reverse_def& rv = revs[rv_index];
    const entity_id src = rv.source;
    relation_ref rel;
    rel.path = p.hops;
    rel.owner = p.end;
    rel.reverse = rv_index;
    rel.source = src;
    rel.link = rv.link;
    const std::string rel_text = p.text + ident(rv.name);
    const double u = r_.unit();
    if (u < 0.4) {
      const int q = static_cast<int>(r_.below(3));
      static const char* names[] = {"any", "none", "all"};
      static const quantifier quants[] = {quantifier::any, quantifier::none, quantifier::all};
      piece out{"", make(K::quantified, ctx), 2};
      out.node->rel = rel;
      out.node->quant = quants[q];
      std::string inner;
      if (depth >= 0) {
        piece c = expr(src, depth);
        inner = c.text;
        out.node->children.push_back(std::move(c.node));
      } else if (q == 2) {  // all() needs a condition
        piece c = constant(src);
        inner = c.text;
        out.node->children.push_back(std::move(c.node));
      }
      out.text = rel_text + "." + names[q] + "(" + inner + ")";
      return out;
    }
    // count() and aggregates: `where(P)`, and for count a condition inside, filter together.
    std::vector<piece> filters;
    std::string text = rel_text;
    if (depth >= 0 && r_.chance(0.45)) {
      filters.push_back(expr(src, depth));
      text += ".where(" + filters.back().text + ")";
    }
    auto filter_node = [&](bound_expr& n) {
      if (filters.size() == 1) {
        n.children.push_back(std::move(filters[0].node));
      } else if (filters.size() == 2) {
        auto both = make(K::and_, src);
        both->children.push_back(std::move(filters[0].node));
        both->children.push_back(std::move(filters[1].node));
        n.children.push_back(std::move(both));
      }
    };
    if (u < 0.65) {
      std::string inner;
      if (depth >= 0 && r_.chance(0.5)) {
        filters.push_back(expr(src, depth));
        inner = filters.back().text;
      }
      piece out{"", make(K::count, ctx), 2};
      out.node->rel = rel;
      out.node->fn = aggregate_fn::count;
      filter_node(*out.node);
      out.text = text + ".count(" + inner + ")" + sp() +
                 number_test_text([&] { return count_lit(); }, out.node->test);
      return out;
    }
    // An aggregate of a numeric or timestamp attribute of the related entity.
    std::vector<std::uint32_t> numeric;
    const auto& attrs = s_.entities[src].attributes;
    for (std::uint32_t a = 0; a < attrs.size(); ++a)
      if (attrs[a].type == value_type::integer || attrs[a].type == value_type::floating ||
          attrs[a].type == value_type::timestamp)
        numeric.push_back(a);
    if (numeric.empty()) {
      piece out{rel_text + ".any()", make(K::quantified, ctx), 2};
      out.node->rel = rel;
      return out;
    }
    // Sums and averages are exact however large the values (the int64 extremes included).
    const std::uint32_t a = numeric[r_.below(numeric.size())];
    const value_type t = attrs[a].type;
    auto fn = static_cast<aggregate_fn>(1 + r_.below(4));
    if (t == value_type::timestamp && fn == aggregate_fn::sum) fn = aggregate_fn::max;
    static const char* fn_names[] = {"count", "sum", "avg", "min", "max"};
    piece out{"", make(K::aggregate, ctx), 2};
    out.node->rel = rel;
    out.node->fn = fn;
    out.node->attr = attr_at(path{"", src, {}}, a);
    filter_node(*out.node);
    auto make_lit = [&]() -> lit {
      if (r_.chance(0.5))
        if (auto v = sample_aggregate(p.end, src, rv.link, a, fn)) return *v;
      if (t == value_type::timestamp && r_.chance(0.3)) return now_lit();
      if (fn == aggregate_fn::sum && r_.chance(0.2)) return int_lit(0);
      lit l = literal_for(src, a, t);
      // avg of an int is fractional: an int literal beyond 2^53 then meets a float.
      const std::int64_t p53 = std::int64_t(1) << 53;
      if (fn == aggregate_fn::avg && !opts_.big_ints_on_floats &&
          l.value.type == value_type::integer && (l.value.i > p53 || l.value.i < -p53))
        return float_lit(static_cast<double>(l.value.i));
      return l;
    };
    out.text = text + "." + fn_names[static_cast<int>(fn)] + "(" + ident(attrs[a].name) + ")" +
               sp() + number_test_text(make_lit, out.node->test);
    return out;
  }

  const graph& g_;
  const schema& s_;
  timestamp_us as_of_;
  rng r_;
  segment_options opts_;
  std::vector<std::pair<std::string, entity_id>> defined_;  // earlier segments of the file
  std::vector<std::pair<entity_id, piece>> pool_;           // pieces written in this file
};

}  // namespace b2bseg::test_support
