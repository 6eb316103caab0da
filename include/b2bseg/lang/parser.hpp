// Recursive-descent parser of the segment language: tokens to ast_file, recovering after errors.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "b2bseg/common/edit_distance.hpp"
#include "b2bseg/common/error.hpp"
#include "b2bseg/common/parse.hpp"
#include "b2bseg/lang/ast.hpp"
#include "b2bseg/lang/lexer.hpp"

namespace b2bseg {

namespace detail::lang {

/// How deeply expressions may nest (parentheses, `not`, conditions inside any/count/where...).
/// Bounds the recursion of the parser, the binder and every consumer of the tree.
inline constexpr int max_nesting = 200;

/// Thrown inside the parser after a syntax error was reported, to abandon the definition.
struct syntax_abort {};

/// Microseconds in one duration unit (`weeks`...`seconds`, singular too); 0 when `w` is none.
constexpr std::int64_t duration_unit_us(std::string_view w) noexcept {
  constexpr std::int64_t s = 1'000'000;
  if (w == "week" || w == "weeks") return 7 * 86'400 * s;
  if (w == "day" || w == "days") return 86'400 * s;
  if (w == "hour" || w == "hours") return 3'600 * s;
  if (w == "minute" || w == "minutes") return 60 * s;
  if (w == "second" || w == "seconds") return s;
  return 0;
}

/// The functions that may follow a path: `rel.any(...)`, `link.in_segment("x")`...
inline const std::vector<std::string_view>& lang_functions() {
  static const std::vector<std::string_view> names = {
      "any", "none", "all", "count", "where", "sum", "avg", "min", "max", "in_segment", "sequence"};
  return names;
}

class parser {
 public:
  parser(const source_text& src, const std::vector<token>& tokens, std::vector<diagnostic>& diags)
      : src_(src), toks_(tokens), diags_(diags) {}

  /// Parses every definition, recovering at the next `segment` or `segmentation` keyword after
  /// a syntax error. A segmentation becomes one definition per bucket (see segmentation()).
  ast_file run() {
    ast_file file;
    while (cur().kind != token_kind::eof) {
      if (is_kw(cur(), "segmentation")) {
        segmentation(file);
        continue;
      }
      if (!is_kw(cur(), "segment")) {
        report(cur(), "expected 'segment' or 'segmentation' to start a definition, found " +
                          describe(cur()));
        skip_to_segment();
        continue;
      }
      file.definitions.push_back(definition());
    }
    return file;
  }

  /// Parses a field expression (SPEC 6) up to the end of the text: a path to an attribute
  /// (`account.name`), or a count or aggregate of a relation without a comparison
  /// (`opportunities.where(not is_closed).sum(amount)`, `people.count()`). A path alone comes
  /// back as `bare`, a count as `count`, an aggregate as `aggregate`, their tests unset. Returns
  /// null after reporting a syntax error.
  std::unique_ptr<ast_expr> field() {
    try {
      if (!is_plain_name(cur()))
        fail(cur(),
             "expected an attribute, a path such as 'account.name' or an aggregate such as "
             "'opportunities.count()', found " +
                 describe(cur()));
      std::vector<ast_name> path = read_path();
      std::unique_ptr<ast_expr> e;
      if (cur().kind == token_kind::lparen) {
        ast_name fn = std::move(path.back());
        path.pop_back();
        if (fn.text != "count" && fn.text != "where" && fn.text != "sum" && fn.text != "avg" &&
            fn.text != "min" && fn.text != "max")
          fail_at(fn.pos, "a field is an attribute, a path or an aggregate; '" + fn.text +
                              "(...)' is a condition");
        e = call(std::move(path), std::move(fn), 0, false);
      } else {
        e = node(ast_expr::kind::bare, path.front().pos);
        e->path = std::move(path);
      }
      if (cur().kind != token_kind::eof)
        fail(cur(), "unexpected " + describe(cur()) + " after the field expression");
      return e;
    } catch (const syntax_abort&) {
      return nullptr;
    }
  }

 private:
  // --- tokens --------------------------------------------------------------------------------
  const token& cur() const noexcept { return toks_[i_]; }
  const token& peek(std::size_t k) const noexcept {
    return i_ + k < toks_.size() ? toks_[i_ + k] : toks_.back();
  }
  const token& advance() noexcept {
    const token& t = toks_[i_];
    if (i_ + 1 < toks_.size()) ++i_;
    return t;
  }
  static bool is_kw(const token& t, std::string_view k) noexcept {
    return t.kind == token_kind::name && !t.quoted && t.value == k;
  }
  static bool is_keyword(const token& t) noexcept {
    return t.kind == token_kind::name && !t.quoted && is_lang_keyword(t.value);
  }
  /// A name that may denote an attribute, link, relation, segment or entity.
  static bool is_plain_name(const token& t) noexcept {
    return t.kind == token_kind::name && (t.quoted || !is_lang_keyword(t.value));
  }
  static bool is_cmp(const token& t) noexcept {
    switch (t.kind) {
      case token_kind::eq:
      case token_kind::ne:
      case token_kind::lt:
      case token_kind::le:
      case token_kind::gt:
      case token_kind::ge:
        return true;
      default:
        return false;
    }
  }
  static cmp_op to_cmp(const token& t) noexcept {
    switch (t.kind) {
      case token_kind::ne:
        return cmp_op::ne;
      case token_kind::lt:
        return cmp_op::lt;
      case token_kind::le:
        return cmp_op::le;
      case token_kind::gt:
        return cmp_op::gt;
      case token_kind::ge:
        return cmp_op::ge;
      default:
        return cmp_op::eq;
    }
  }
  static std::string describe(const token& t) {
    switch (t.kind) {
      case token_kind::eof:
        return "end of file";
      case token_kind::string:
        return "a string";
      case token_kind::name:
        return "'" + t.value + "'";
      default:
        return "'" + std::string(t.text) + "'";
    }
  }

  // --- errors --------------------------------------------------------------------------------
  void report(const token& t, std::string message) {
    // An error token was reported by the lexer already: one diagnostic per problem.
    if (t.kind == token_kind::error) return;
    diags_.push_back(src_.make(t.pos, std::move(message)));
  }
  [[noreturn]] void fail(const token& t, std::string message) {
    report(t, std::move(message));
    throw syntax_abort{};
  }
  [[noreturn]] void fail_at(source_pos pos, std::string message) {
    diags_.push_back(src_.make(pos, std::move(message)));
    throw syntax_abort{};
  }
  static bool starts_definition(const token& t) noexcept {
    return t.kind == token_kind::eof || is_kw(t, "segment") || is_kw(t, "segmentation");
  }
  void skip_to_segment() {
    while (!starts_definition(cur())) advance();
  }
  void expect(token_kind k, const std::string& message) {
    if (cur().kind != k) fail(cur(), message + ", found " + describe(cur()));
    advance();
  }

  // --- definitions ---------------------------------------------------------------------------
  // `NAME on ENTITY` after the keyword `what` (segment, segmentation).
  void name_on_entity(const std::string& what, ast_name& name, ast_name& entity) {
    if (!is_plain_name(cur()))
      fail(cur(), "expected a " + what + " name after '" + what + "', found " + describe(cur()));
    name = {cur().value, cur().pos};
    advance();
    if (!is_kw(cur(), "on"))
      fail(cur(), "expected 'on' after " + what + " name, found " + describe(cur()));
    advance();
    if (!is_plain_name(cur()))
      fail(cur(), "expected an entity name after 'on', found " + describe(cur()));
    entity = {cur().value, cur().pos};
    advance();
  }

  ast_definition definition() {
    ast_definition d;
    d.pos = advance().pos;  // `segment`
    try {
      name_on_entity("segment", d.name, d.entity);
      if (!is_kw(cur(), "where"))
        fail(cur(), "expected 'where' after entity name, found " + describe(cur()));
      advance();
      d.where = or_expr(0);
      if (!starts_definition(cur())) {
        if (cur().kind == token_kind::rparen) fail(cur(), "unexpected ')'");
        fail(cur(), "expected 'and', 'or' or the next 'segment', found " + describe(cur()));
      }
      d.ok = true;
    } catch (const syntax_abort&) {
      d.where.reset();
      skip_to_segment();
    }
    return d;
  }

  // `segmentation NAME on ENTITY (bucket B where EXPR)+ [else B]` (SPEC 3.5): each bucket is a
  // definition named `NAME.B` whose condition is its own and none of the earlier buckets' (as
  // `not in_segment("NAME.Bk")`, so no condition is parsed twice); `else` holds what no bucket
  // took. After a syntax error the buckets read so far stay (their names count as defined).
  void segmentation(ast_file& file) {
    advance();  // `segmentation`
    ast_name name, entity;
    std::vector<std::string> earlier;  // full names of the buckets so far
    try {
      name_on_entity("segmentation", name, entity);
      if (!is_kw(cur(), "bucket"))
        fail(cur(), "expected 'bucket NAME where ...' in segmentation '" + name.text + "', found " +
                        describe(cur()));
      while (is_kw(cur(), "bucket") || is_kw(cur(), "else")) {
        const bool last = is_kw(cur(), "else");
        ast_definition d;
        d.pos = advance().pos;
        if (!is_plain_name(cur()))
          fail(cur(), std::string("expected a bucket name after '") + (last ? "else" : "bucket") +
                          "', found " + describe(cur()));
        d.name = {name.text + "." + cur().value, cur().pos};
        d.entity = entity;
        advance();
        auto all = node(ast_expr::kind::and_, d.name.pos);
        if (!last) {
          if (!is_kw(cur(), "where"))
            fail(cur(), "expected 'where' after bucket name, found " + describe(cur()));
          advance();
          all->children.push_back(or_expr(0));
        }
        for (const std::string& b : earlier) {
          auto in = node(ast_expr::kind::in_segment, d.name.pos);
          in->segment = {b, d.name.pos};
          in->text = "in_segment(\"" + b + "\")";
          auto no = node(ast_expr::kind::not_, d.name.pos);
          no->text = "not " + in->text;
          no->children.push_back(std::move(in));
          all->children.push_back(std::move(no));
        }
        if (all->children.size() == 1)
          d.where = std::move(all->children[0]);
        else
          d.where = std::move(all);
        d.ok = true;
        earlier.push_back(d.name.text);
        file.definitions.push_back(std::move(d));
        if (last) break;
      }
      if (!starts_definition(cur()))
        fail(cur(), std::string(is_kw(cur(), "else") || is_kw(cur(), "bucket")
                                    ? "nothing may follow the 'else' bucket"
                                    : "expected 'bucket', 'else' or the next definition") +
                        ", found " + describe(cur()));
    } catch (const syntax_abort&) {
      skip_to_segment();
    }
  }

  // --- expressions ---------------------------------------------------------------------------
  static std::unique_ptr<ast_expr> node(ast_expr::kind k, source_pos pos) {
    auto e = std::make_unique<ast_expr>();
    e->k = k;
    e->pos = pos;
    e->op_pos = pos;
    return e;
  }

  // Sets `e`'s source span: from byte `begin` to the end of the last token read.
  void span(ast_expr& e, std::size_t begin) const noexcept {
    const token& last = toks_[i_ > 0 ? i_ - 1 : 0];
    e.text_begin = begin;
    e.text_end = std::max(begin, last.offset + last.text.size());
  }

  std::unique_ptr<ast_expr> or_expr(int depth) {
    const std::size_t begin = cur().offset;
    auto first = and_expr(depth);
    if (!is_kw(cur(), "or")) return first;
    auto e = node(ast_expr::kind::or_, first->pos);
    e->op_pos = cur().pos;
    e->children.push_back(std::move(first));
    while (is_kw(cur(), "or")) {
      advance();
      e->children.push_back(and_expr(depth));
    }
    span(*e, begin);
    return e;
  }

  std::unique_ptr<ast_expr> and_expr(int depth) {
    const std::size_t begin = cur().offset;
    auto first = unary(depth);
    if (!is_kw(cur(), "and")) return first;
    auto e = node(ast_expr::kind::and_, first->pos);
    e->op_pos = cur().pos;
    e->children.push_back(std::move(first));
    while (is_kw(cur(), "and")) {
      advance();
      e->children.push_back(unary(depth));
    }
    span(*e, begin);
    return e;
  }

  std::unique_ptr<ast_expr> unary(int depth) {
    if (depth >= max_nesting)
      fail(cur(),
           "expression nested too deeply (more than " + std::to_string(max_nesting) + " levels)");
    if (is_kw(cur(), "not")) {
      const std::size_t begin = cur().offset;
      auto e = node(ast_expr::kind::not_, advance().pos);
      e->children.push_back(unary(depth + 1));
      span(*e, begin);
      return e;
    }
    return primary(depth);
  }

  std::unique_ptr<ast_expr> primary(int depth) {
    const token& t = cur();
    const std::size_t begin = t.offset;
    if (t.kind == token_kind::lparen) {
      advance();
      auto e = or_expr(depth + 1);
      expect(token_kind::rparen, "expected ')'");
      return e;
    }
    if (is_kw(t, "true") || is_kw(t, "false")) {
      auto e = node(ast_expr::kind::constant, t.pos);
      e->constant = t.value == "true";
      advance();
      span(*e, begin);
      return e;
    }
    if (is_kw(t, "bucket") && peek(1).kind == token_kind::lparen) {
      auto e = bucket_test();
      span(*e, begin);
      return e;
    }
    if (is_kw(t, "top") && peek(1).kind == token_kind::lparen) {
      auto e = top(depth);
      span(*e, begin);
      return e;
    }
    if (is_plain_name(t)) {
      auto e = predicate(depth);
      span(*e, begin);
      return e;
    }
    if (t.kind == token_kind::rparen) fail(t, "unexpected ')'");
    if (is_keyword(t) && looks_like_subject(peek(1)))
      fail(t, "'" + t.value + "' is a keyword; write `" + t.value + "` to use it as a name");
    fail(t, "expected a condition, found " + describe(t));
  }

  // `rel.sequence(TS, P1 then P2 ... [within D])`, cur() at '('.
  std::unique_ptr<ast_expr> sequence(std::vector<ast_name> path, const ast_name& fn,
                                     source_pos start, int depth) {
    auto e = node(ast_expr::kind::sequence, start);
    e->op_pos = fn.pos;
    e->path = std::move(path);
    advance();
    if (!is_plain_name(cur()))
      fail(cur(),
           "expected the timestamp that orders the sequence, as in "
           "'events.sequence(timestamp, ...)', found " +
               describe(cur()));
    e->fn_attr = {cur().value, cur().pos};
    advance();
    expect(token_kind::comma, "expected ',' and the first step after the timestamp of sequence(");
    e->children.push_back(or_expr(depth + 1));
    while (is_kw(cur(), "then")) {
      advance();
      e->children.push_back(or_expr(depth + 1));
    }
    if (is_kw(cur(), "within")) {
      advance();
      e->has_within = true;
      e->duration_us = duration("'within'");
    }
    expect(token_kind::rparen, "expected 'then', 'within' or ')' in sequence(...)");
    return e;
  }

  // `top(N, by A [asc|desc] [, by B ...] [, per LINK] [, where P])`, cur() at `top`.
  std::unique_ptr<ast_expr> top(int depth) {
    auto e = node(ast_expr::kind::top, cur().pos);
    advance();  // `top`
    advance();  // '('
    const token& n = cur();
    e->top_n_pos = n.pos;
    const std::string expected =
        "expected the number of entities in top(...), as in 'top(3, by amount desc)', found ";
    if (n.kind == token_kind::minus) {
      e->top_n = -1;  // the binder says N >= 1
      advance();
      if (cur().kind != token_kind::integer) fail(cur(), expected + describe(cur()));
    } else if (n.kind != token_kind::integer) {
      fail(n, expected + describe(n));
    } else if (!parse_int64(n.text, e->top_n)) {
      e->top_n = std::numeric_limits<std::int64_t>::max();
    }
    advance();
    while (cur().kind == token_kind::comma) {
      advance();
      if (is_kw(cur(), "by")) {
        advance();
        if (!is_plain_name(cur()))
          fail(cur(), "expected an attribute after 'by', found " + describe(cur()));
        ast_expr::order_key k{{cur().value, cur().pos}, false};
        advance();
        if (is_kw(cur(), "asc") || is_kw(cur(), "desc")) {
          k.desc = cur().value == "desc";
          advance();
        }
        e->order.push_back(std::move(k));
      } else if (is_kw(cur(), "per")) {
        if (!e->per.text.empty()) fail(cur(), "top(...) takes one 'per'");
        advance();
        if (!is_plain_name(cur()))
          fail(cur(), "expected a link after 'per', found " + describe(cur()));
        e->per = {cur().value, cur().pos};
        advance();
      } else if (is_kw(cur(), "where")) {
        if (e->filter) fail(cur(), "top(...) takes one 'where'");
        advance();
        e->filter = or_expr(depth + 1);
      } else {
        fail(cur(), "expected 'by', 'per' or 'where' in top(...), found " + describe(cur()));
      }
    }
    expect(token_kind::rparen, "expected ',' or ')' in top(...)");
    if (e->order.empty())
      fail_at(e->pos, "top(...) needs at least one 'by' key, as in 'top(3, by amount desc)'");
    return e;
  }

  // `[not] in (v, ...)` from cur(), the subject read.
  std::unique_ptr<ast_expr> in_list(source_pos start) {
    auto e = node(ast_expr::kind::in_list, start);
    e->op_pos = cur().pos;
    if (is_kw(cur(), "not")) {
      advance();
      if (!is_kw(cur(), "in")) fail(cur(), "expected 'in' after 'not', found " + describe(cur()));
      e->negated = true;
    }
    advance();
    expect(token_kind::lparen, "expected '(' after 'in'");
    e->values.push_back(literal("'('"));
    while (cur().kind == token_kind::comma) {
      advance();
      e->values.push_back(literal("','"));
    }
    expect(token_kind::rparen, "expected ',' or ')' in the list");
    return e;
  }

  // `between lo and hi` from cur(), the subject read.
  std::unique_ptr<ast_expr> between(source_pos start) {
    auto e = node(ast_expr::kind::between, start);
    e->op_pos = advance().pos;
    e->value = literal("'between'");
    if (!is_kw(cur(), "and"))
      fail(cur(), "expected 'and' between the bounds of 'between', found " + describe(cur()));
    advance();
    e->hi = literal("'and'");
    return e;
  }

  // `bucket("SALT", N)` and a comparison of it: `op value`, `[not] in (...)`, `between a and b`.
  std::unique_ptr<ast_expr> bucket_test() {
    const source_pos start = advance().pos;  // `bucket`
    advance();                               // '('
    if (cur().kind != token_kind::string)
      fail(cur(),
           "expected a salt in double quotes after 'bucket(', as in 'bucket(\"q4\", 100)'"
           ", found " +
               describe(cur()));
    std::string salt = cur().value;
    advance();
    expect(token_kind::comma, "expected ',' and the number of buckets after the salt");
    if (cur().kind != token_kind::integer)
      fail(cur(),
           "expected the number of buckets (an integer) in bucket(...), found " + describe(cur()));
    std::int64_t n = 0;
    const source_pos n_pos = cur().pos;
    if (!parse_int64(cur().text, n)) n = std::numeric_limits<std::int64_t>::max();
    advance();
    expect(token_kind::rparen, "expected ')' after the number of buckets");
    const token& t = cur();
    std::unique_ptr<ast_expr> e;
    if (is_cmp(t)) {
      e = node(ast_expr::kind::compare, start);
      e->op = to_cmp(t);
      const std::string op(t.text);
      e->op_pos = advance().pos;
      e->value = literal("'" + op + "'");
    } else if (is_kw(t, "not") || is_kw(t, "in")) {
      e = in_list(start);
    } else if (is_kw(t, "between")) {
      e = between(start);
    } else {
      fail(t, "bucket(...) is a number: compare it, as in 'bucket(\"" + salt +
                  "\", 100) < 10', found " + describe(t));
    }
    e->bucket = true;
    e->bucket_salt = std::move(salt);
    e->bucket_n = n;
    e->bucket_n_pos = n_pos;
    return e;
  }

  // True when `t` can follow the subject of a predicate: a keyword misused as a name then reads
  // as one (`last = "x"`).
  static bool looks_like_subject(const token& t) noexcept {
    return is_cmp(t) || t.kind == token_kind::dot || is_kw(t, "is") || is_kw(t, "in") ||
           is_kw(t, "between") || is_kw(t, "like") || is_kw(t, "ilike") || is_kw(t, "within");
  }

  // A name after '.': keywords are names only in backticks, except a function (`where(`).
  ast_name name_after_dot() {
    const token& t = cur();
    if (t.kind != token_kind::name) fail(t, "expected a name after '.', found " + describe(t));
    if (!t.quoted && is_lang_keyword(t.value) && peek(1).kind != token_kind::lparen)
      fail(t, "'" + t.value + "' is a keyword; write `" + t.value + "` to use it as a name");
    advance();
    return {t.value, t.pos};
  }

  // `name(.name)*` from the current name, stopping before a '(' (the last name is then a
  // function).
  std::vector<ast_name> read_path() {
    std::vector<ast_name> path;
    path.push_back({cur().value, cur().pos});
    advance();
    while (cur().kind == token_kind::dot) {
      advance();
      path.push_back(name_after_dot());
      if (cur().kind == token_kind::lparen) break;
    }
    return path;
  }

  std::unique_ptr<ast_expr> predicate(int depth) {
    std::vector<ast_name> path = read_path();
    if (cur().kind == token_kind::lparen) {
      ast_name fn = std::move(path.back());
      path.pop_back();
      return call(std::move(path), std::move(fn), depth);
    }
    const source_pos start = path.front().pos;
    const token& t = cur();
    if (is_cmp(t)) {
      const std::string op(t.text);
      const source_pos op_pos = advance().pos;
      if (is_plain_name(cur())) {
        auto e = node(ast_expr::kind::compare_path, start);
        e->op_pos = op_pos;
        e->op = to_cmp(t);
        e->path = std::move(path);
        e->path2.push_back({cur().value, cur().pos});
        advance();
        while (cur().kind == token_kind::dot) {
          advance();
          e->path2.push_back(name_after_dot());
        }
        if (cur().kind == token_kind::lparen)
          fail(cur(), "the right side of '" + op + "' must be a value or an attribute");
        return e;
      }
      auto e = node(ast_expr::kind::compare, start);
      e->op_pos = op_pos;
      e->op = to_cmp(t);
      e->path = std::move(path);
      e->value = literal("'" + op + "'");
      return e;
    }
    if (is_kw(t, "not") || is_kw(t, "in")) {
      auto e = in_list(start);
      e->path = std::move(path);
      return e;
    }
    if (is_kw(t, "between")) {
      auto e = between(start);
      e->path = std::move(path);
      return e;
    }
    if (is_kw(t, "like") || is_kw(t, "ilike")) {
      auto e = node(ast_expr::kind::like, start);
      e->case_insensitive = t.value == "ilike";
      const std::string kw = t.value;
      e->op_pos = advance().pos;
      e->path = std::move(path);
      if (cur().kind != token_kind::string)
        fail(cur(), "expected a string pattern after '" + kw + "', found " + describe(cur()));
      e->value.k = ast_literal::kind::string;
      e->value.s = cur().value;
      e->value.pos = cur().pos;
      advance();
      return e;
    }
    if (is_kw(t, "is")) {
      auto e = node(ast_expr::kind::is_null, start);
      e->op_pos = advance().pos;
      e->path = std::move(path);
      if (is_kw(cur(), "not")) {
        advance();
        e->negated = true;
        if (!is_kw(cur(), "null"))
          fail(cur(), "expected 'null' after 'is not', found " + describe(cur()));
      } else if (!is_kw(cur(), "null")) {
        fail(cur(), "expected 'null' or 'not null' after 'is', found " + describe(cur()));
      }
      advance();
      return e;
    }
    if (is_kw(t, "within")) {
      auto e = node(ast_expr::kind::within, start);
      e->op_pos = advance().pos;
      e->path = std::move(path);
      if (!is_kw(cur(), "last") && !is_kw(cur(), "next"))
        fail(cur(), "expected 'last' or 'next' after 'within', found " + describe(cur()));
      e->within_next = cur().value == "next";
      const std::string after = "'within " + cur().value + "'";
      advance();
      e->duration_us = duration(after);
      return e;
    }
    auto e = node(ast_expr::kind::bare, start);
    e->path = std::move(path);
    return e;
  }

  // `[path.]fn(...)`, the function name already read; cur() is '('.
  // `with_test`: a comparison follows count() and aggregates (false in a field expression).
  std::unique_ptr<ast_expr> call(std::vector<ast_name> path, ast_name fn, int depth,
                                 bool with_test = true) {
    const source_pos start = path.empty() ? fn.pos : path.front().pos;
    if (fn.text == "in_segment") {
      auto e = node(ast_expr::kind::in_segment, start);
      e->op_pos = fn.pos;
      e->path = std::move(path);
      advance();
      if (cur().kind != token_kind::string)
        fail(cur(), "expected a segment name in double quotes after 'in_segment(', found " +
                        describe(cur()));
      e->segment = {cur().value, cur().pos};
      advance();
      expect(token_kind::rparen, "expected ')' after the segment name");
      return e;
    }
    const auto& fns = lang_functions();
    bool known = false;
    for (std::string_view f : fns) known |= f == fn.text;
    if (!known) fail_at(fn.pos, "unknown function '" + fn.text + "'" + did_you_mean(fn.text, fns));
    if (path.empty())
      fail_at(fn.pos, "'" + fn.text + "(...)' must follow a relation, as in '" +
                          (fn.text == "sequence" ? "events" : "opportunities") + "." + fn.text +
                          "(...)'");
    if (fn.text == "sequence") return sequence(std::move(path), fn, start, depth);
    std::unique_ptr<ast_expr> filter;
    if (fn.text == "where") {
      advance();
      if (cur().kind == token_kind::rparen)
        fail(cur(), "where(...) needs a condition, as in 'where(amount > 0)'");
      filter = or_expr(depth + 1);
      expect(token_kind::rparen, "expected ')'");
      if (cur().kind != token_kind::dot || peek(1).kind != token_kind::name ||
          peek(2).kind != token_kind::lparen)
        fail(cur(),
             "expected '.count()', '.sum(...)', '.avg(...)', '.min(...)' or '.max(...)' after "
             "'where(...)', found " +
                 describe(cur()));
      advance();
      fn = {cur().value, cur().pos};
      if (fn.text != "count" && fn.text != "sum" && fn.text != "avg" && fn.text != "min" &&
          fn.text != "max")
        fail(cur(),
             "expected '.count()', '.sum(...)', '.avg(...)', '.min(...)' or '.max(...)' after "
             "'where(...)', found " +
                 describe(cur()));
      advance();
    }
    if (fn.text == "any" || fn.text == "none" || fn.text == "all") {
      auto e = node(ast_expr::kind::quantified, start);
      e->op_pos = fn.pos;
      e->path = std::move(path);
      e->quant = fn.text == "any"    ? quantifier::any
                 : fn.text == "none" ? quantifier::none
                                     : quantifier::all;
      advance();
      if (cur().kind != token_kind::rparen) {
        e->children.push_back(or_expr(depth + 1));
      } else if (e->quant == quantifier::all) {
        fail(cur(), "all(...) needs a condition, as in 'opportunities.all(is_closed)'");
      }
      expect(token_kind::rparen, "expected ')'");
      return e;
    }
    if (fn.text == "count") {
      auto e = node(ast_expr::kind::count, start);
      e->op_pos = fn.pos;
      e->path = std::move(path);
      e->filter = std::move(filter);
      advance();
      if (cur().kind != token_kind::rparen) e->children.push_back(or_expr(depth + 1));
      expect(token_kind::rparen, "expected ')'");
      if (with_test) e->test = number_test("count()");
      return e;
    }
    // sum, avg, min, max
    auto e = node(ast_expr::kind::aggregate, start);
    e->op_pos = fn.pos;
    e->path = std::move(path);
    e->filter = std::move(filter);
    e->fn = fn.text == "sum"   ? aggregate_fn::sum
            : fn.text == "avg" ? aggregate_fn::avg
            : fn.text == "min" ? aggregate_fn::min
                               : aggregate_fn::max;
    advance();
    if (!is_plain_name(cur()))
      fail(cur(), "expected an attribute name in " + fn.text + "(...), found " + describe(cur()));
    e->fn_attr = {cur().value, cur().pos};
    advance();
    if (cur().kind == token_kind::dot)
      fail(cur(), fn.text + "(...) takes an attribute of the related entity, not a path");
    expect(token_kind::rparen, "expected ')' after the attribute of " + fn.text + "(...)");
    if (with_test) e->test = number_test(fn.text + "(" + e->fn_attr.text + ")");
    return e;
  }

  ast_number_test number_test(const std::string& what) {
    ast_number_test t;
    if (is_cmp(cur())) {
      t.op = to_cmp(cur());
      const std::string op(cur().text);
      advance();
      t.value = literal("'" + op + "'");
      return t;
    }
    if (is_kw(cur(), "between")) {
      advance();
      t.between = true;
      t.value = literal("'between'");
      if (!is_kw(cur(), "and"))
        fail(cur(), "expected 'and' between the bounds of 'between', found " + describe(cur()));
      advance();
      t.hi = literal("'and'");
      return t;
    }
    fail(cur(), "expected a comparison such as '>= 1' or 'between 1 and 5' after " + what +
                    ", found " + describe(cur()));
  }

  // --- literals ------------------------------------------------------------------------------
  ast_literal literal(const std::string& after) {
    ast_literal l;
    const token& t = cur();
    l.pos = t.pos;
    switch (t.kind) {
      case token_kind::string:
        l.k = ast_literal::kind::string;
        l.s = t.value;
        advance();
        return l;
      case token_kind::timestamp:
        l.k = ast_literal::kind::timestamp;
        l.t = t.time;
        advance();
        return l;
      case token_kind::integer:
      case token_kind::decimal:
        number(l, false);
        return l;
      case token_kind::minus:
        advance();
        if (cur().kind != token_kind::integer && cur().kind != token_kind::decimal)
          fail(cur(), "expected a number after '-', found " + describe(cur()));
        number(l, true);
        return l;
      default:
        break;
    }
    if (is_kw(t, "true") || is_kw(t, "false")) {
      l.k = ast_literal::kind::boolean;
      l.b = t.value == "true";
      advance();
      return l;
    }
    if (is_kw(t, "now")) {
      l.k = ast_literal::kind::now;
      advance();
      if (cur().kind == token_kind::plus || cur().kind == token_kind::minus) {
        const bool minus = cur().kind == token_kind::minus;
        advance();
        l.offset_us = duration(minus ? "'now -'" : "'now +'");
        if (minus) l.offset_us = -l.offset_us;
      }
      return l;
    }
    if (is_kw(t, "null")) fail(t, "compare with null using 'is null' or 'is not null'");
    fail(t, "expected a value after " + after + ", found " + describe(t));
  }

  // Reads the number at cur() (negated when `negative`) into `l`.
  void number(ast_literal& l, bool negative) {
    const token& t = cur();
    std::string text(negative ? "-" : "");  // (not `"-" + string`: GCC 12's -Wrestrict)
    text += t.text;
    if (t.kind == token_kind::integer) {
      if (!parse_int64(text, l.i)) fail(t, "bad number '" + text + "': out of the 64-bit range");
      l.k = ast_literal::kind::integer;
      l.f = static_cast<double>(l.i);
    } else {
      if (!parse_double(text, l.f)) fail(t, "bad number '" + text + "': out of range");
      l.k = ast_literal::kind::floating;
    }
    advance();
    if (cur().kind == token_kind::name && !cur().quoted && duration_unit_us(cur().value) != 0)
      fail_at(t.pos, "a duration is only valid after 'now -', 'now +' or 'within last/next'");
  }

  // `N unit` after `after` (for messages); returns microseconds.
  std::int64_t duration(const std::string& after) {
    const token& n = cur();
    if (n.kind != token_kind::integer && n.kind != token_kind::decimal)
      fail(n, "expected a duration such as '30 days' after " + after + ", found " + describe(n));
    advance();
    const token& u = cur();
    const std::int64_t unit =
        u.kind == token_kind::name && !u.quoted ? duration_unit_us(u.value) : 0;
    if (unit == 0)
      fail(u, "expected a duration unit (weeks, days, hours, minutes or seconds) after '" +
                  std::string(n.text) + "', found " + describe(u));
    advance();
    const std::string out_of_range =
        "duration '" + std::string(n.text) + " " + u.value + "' is out of range";
    if (n.kind == token_kind::integer) {
      std::int64_t v = 0;
      if (!parse_int64(n.text, v) || v > std::numeric_limits<std::int64_t>::max() / unit)
        fail(n, out_of_range);
      return v * unit;
    }
    double v = 0;
    if (!parse_double(n.text, v)) fail(n, out_of_range);
    const double us = std::round(v * static_cast<double>(unit));
    // 2^63 is exactly representable: anything below it converts without overflow.
    if (!(us < 9223372036854775808.0)) fail(n, out_of_range);
    return static_cast<std::int64_t>(us);
  }

  const source_text& src_;
  const std::vector<token>& toks_;
  std::vector<diagnostic>& diags_;
  std::size_t i_ = 0;
};

}  // namespace detail::lang

/// Lexes and parses `text` into a syntax tree, appending every lexical and syntax error to
/// `diags` in source order (`file` names the text in them). After a syntax error the parser skips
/// to the next `segment` keyword and goes on, leaving the broken definition with `ok == false`.
/// Nesting deeper than 200 levels is an error, so the depth of the tree is bounded.
/// O(size); the tree owns its strings. Never throws except std::bad_alloc.
inline ast_file parse_segments(std::string_view text, const std::string& file,
                               std::vector<diagnostic>& diags) {
  detail::lang::source_text src(text, file);
  std::vector<diagnostic> found;
  const std::vector<token> tokens = detail::lang::lexer(src, found).run();
  ast_file tree = detail::lang::parser(src, tokens, found).run();
  src.finish(found);
  diags.insert(diags.end(), found.begin(), found.end());
  return tree;
}

}  // namespace b2bseg
