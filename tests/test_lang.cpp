// Tests of the segment language front end: lexer, parser, binder and compile_segments.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/common/edit_distance.hpp"
#include "b2bseg/lang/compile.hpp"
#include "b2bseg/lang/lexer.hpp"
#include "b2bseg/lang/parser.hpp"
#include "b2bseg/storage/schema_json.hpp"
#include "support/lang_schema.hpp"

namespace b2bseg {
namespace {

using bk = bound_expr::kind;

const schema& b2b() {
  static const schema s = test::b2b_schema();
  return s;
}

entity_id ent(std::string_view name) {
  const entity_id e = b2b().find_entity(name);
  EXPECT_NE(e, no_entity) << name;
  return e;
}

std::uint32_t attr_index(std::string_view entity, std::string_view name) {
  const int a = b2b().entities[ent(entity)].find_attribute(name);
  EXPECT_GE(a, 0) << name;
  return static_cast<std::uint32_t>(a);
}

std::uint32_t link_index(std::string_view entity, std::string_view name) {
  const int l = b2b().entities[ent(entity)].find_link(name);
  EXPECT_GE(l, 0) << name;
  return static_cast<std::uint32_t>(l);
}

/// Compiles `text`, failing the test with the rendered diagnostics when it does not compile.
bound_file compile_ok(std::string_view text) {
  try {
    return compile_segments(text, b2b());
  } catch (const compile_error& e) {
    ADD_FAILURE() << "unexpected compile error:\n" << e.what();
    return {};
  }
}

/// The rendered diagnostics of `text`, or "<compiled>" when it compiles.
std::string errors_of(std::string_view text, const std::string& file = "<segments>") {
  try {
    compile_segments(text, b2b(), file);
  } catch (const compile_error& e) {
    return e.what();
  }
  return "<compiled>";
}

/// The diagnostics of `text` (none when it compiles).
std::vector<diagnostic> diagnostics_of(std::string_view text) {
  try {
    compile_segments(text, b2b());
  } catch (const compile_error& e) {
    return e.diagnostics();
  }
  return {};
}

/// The where-tree of the only segment of `text`: `segment s on ENTITY where EXPR`.
std::unique_ptr<bound_expr> bind_where(std::string_view entity, std::string_view expr) {
  bound_file f = compile_ok("segment s on " + std::string(entity) + " where " + std::string(expr));
  if (f.segments.size() != 1 || !f.segments[0].where) {
    ADD_FAILURE() << "no tree for: " << expr;
    return std::make_unique<bound_expr>();
  }
  return std::move(f.segments[0].where);
}

/// The diagnostic message (and only it) of `expr` over `entity`.
std::string message_of(std::string_view entity, std::string_view expr) {
  auto ds = diagnostics_of("segment s on " + std::string(entity) + " where " + std::string(expr));
  if (ds.size() != 1) {
    ADD_FAILURE() << ds.size() << " diagnostics for: " << expr;
    return {};
  }
  return ds[0].message;
}

void expect_attr(const attr_ref& a, std::string_view entity, std::string_view name,
                 std::size_t hops = 0) {
  EXPECT_EQ(a.entity, ent(entity));
  EXPECT_EQ(a.attribute, attr_index(entity, name));
  EXPECT_EQ(a.type, b2b().entities[ent(entity)].attributes[attr_index(entity, name)].type);
  EXPECT_EQ(a.path.size(), hops);
}

constexpr std::int64_t day_us = 86'400'000'000LL;

// --- edit distance -------------------------------------------------------------------------

TEST(EditDistance, CountsEditsAndTranspositions) {
  EXPECT_EQ(edit_distance("industry", "industry"), 0u);
  EXPECT_EQ(edit_distance("industy", "industry"), 1u);
  EXPECT_EQ(edit_distance("indsutry", "industry"), 1u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("Industry", "industry"), 0u);
  EXPECT_GT(edit_distance("a", "abcdefgh", 2), 2u);
}

TEST(EditDistance, ClosestNameOnlyWhenClose) {
  const std::vector<std::string_view> names = {"industry", "employees", "name", "tags"};
  EXPECT_EQ(closest_name("industy", names), "industry");
  EXPECT_EQ(closest_name("employes", names), "employees");
  EXPECT_EQ(closest_name("nmae", names), "name");
  EXPECT_EQ(closest_name("revenue", names), "");
  EXPECT_EQ(closest_name("x", names), "");
  EXPECT_EQ(did_you_mean("tag", names), "; did you mean 'tags'?");
  EXPECT_EQ(did_you_mean("zzz", names), "");
}

// --- lexer ---------------------------------------------------------------------------------

TEST(Lexer, TokenKindsAndPositions) {
  std::vector<diagnostic> ds;
  const std::string text = "segment a # comment\n  on `last`(1.5e3, -7) != @2026-01-01 <=";
  auto toks = lex_segments(text, "f", ds);
  ASSERT_TRUE(ds.empty());
  std::vector<token_kind> kinds;
  for (const token& t : toks) kinds.push_back(t.kind);
  const std::vector<token_kind> want = {
      token_kind::name,    token_kind::name,    token_kind::name,  token_kind::name,
      token_kind::lparen,  token_kind::decimal, token_kind::comma, token_kind::minus,
      token_kind::integer, token_kind::rparen,  token_kind::ne,    token_kind::timestamp,
      token_kind::le,      token_kind::eof};
  EXPECT_EQ(kinds, want);
  EXPECT_EQ(toks[2].pos.line, 2u);
  EXPECT_EQ(toks[2].pos.column, 3u);
  EXPECT_TRUE(toks[3].quoted);
  EXPECT_EQ(toks[3].value, "last");
  EXPECT_EQ(toks[11].time, 1767225600LL * 1'000'000);
}

TEST(Lexer, StringEscapes) {
  std::vector<diagnostic> ds;
  auto toks = lex_segments(R"("a\"b\\c\n\t\u00e9\u20AC\uD83D\uDE00")", "f", ds);
  ASSERT_TRUE(ds.empty());
  ASSERT_EQ(toks[0].kind, token_kind::string);
  EXPECT_EQ(toks[0].value, "a\"b\\c\n\t\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
}

TEST(Lexer, ByteOrderMarkAndCrlf) {
  auto f = compile_ok("\xEF\xBB\xBFsegment a on account\r\nwhere is_customer\r\n");
  ASSERT_EQ(f.segments.size(), 1u);
}

// --- binding of every construct ----------------------------------------------------------

TEST(Bind, CompareWithEveryOperator) {
  const std::pair<const char*, cmp_op> ops[] = {{"=", cmp_op::eq}, {"!=", cmp_op::ne},
                                                {"<", cmp_op::lt}, {"<=", cmp_op::le},
                                                {">", cmp_op::gt}, {">=", cmp_op::ge}};
  for (const auto& [text, op] : ops) {
    auto e = bind_where("account", std::string("employees ") + text + " 1000");
    ASSERT_EQ(e->k, bk::compare) << text;
    EXPECT_EQ(e->op, op);
    EXPECT_EQ(e->context, ent("account"));
    expect_attr(e->attr, "account", "employees");
    EXPECT_EQ(e->value.type, value_type::integer);
    EXPECT_EQ(e->value.i, 1000);
    EXPECT_EQ(e->value.f, 1000.0);
  }
}

TEST(Bind, NumbersMixIntAndFloat) {
  auto a = bind_where("account", "annual_revenue > 5");
  EXPECT_EQ(a->value.type, value_type::floating);
  EXPECT_EQ(a->value.f, 5.0);
  EXPECT_EQ(a->value.i, 5);
  auto b = bind_where("account", "employees > 1.5");
  EXPECT_EQ(b->value.type, value_type::floating);
  EXPECT_EQ(b->value.f, 1.5);
  auto c = bind_where("account", "employees > -3");
  EXPECT_EQ(c->value.type, value_type::integer);
  EXPECT_EQ(c->value.i, -3);
  auto d = bind_where("person", "score <= -1.5e3");
  EXPECT_EQ(d->value.f, -1500.0);
  auto e = bind_where("account", "employees >= -9223372036854775808");
  EXPECT_EQ(e->value.i, INT64_MIN);
  auto f = bind_where("person", "score > .5");
  EXPECT_EQ(f->value.f, 0.5);
}

TEST(Bind, StringsBoolsAndStringLists) {
  auto a = bind_where("account", R"(industry = "Soft\"ware")");
  EXPECT_EQ(a->value.type, value_type::string);
  EXPECT_EQ(a->value.s, "Soft\"ware");
  auto b = bind_where("account", "is_customer = false");
  EXPECT_EQ(b->value.type, value_type::boolean);
  EXPECT_FALSE(b->value.b);
  auto c = bind_where("account", R"(tags = "ai")");
  expect_attr(c->attr, "account", "tags");
  EXPECT_EQ(c->attr.type, value_type::string_list);
  EXPECT_EQ(c->value.type, value_type::string);
  EXPECT_EQ(c->value.s, "ai");
}

TEST(Bind, BoolAttributeAloneIsEqualTrue) {
  auto e = bind_where("account", "is_customer");
  ASSERT_EQ(e->k, bk::compare);
  EXPECT_EQ(e->op, cmp_op::eq);
  expect_attr(e->attr, "account", "is_customer");
  EXPECT_EQ(e->value.type, value_type::boolean);
  EXPECT_TRUE(e->value.b);
  auto p = bind_where("person", "account.is_customer");
  ASSERT_EQ(p->k, bk::compare);
  expect_attr(p->attr, "account", "is_customer", 1);
}

TEST(Bind, Timestamps) {
  auto a = bind_where("account", "created_at >= @2026-01-01");
  EXPECT_EQ(a->value.type, value_type::timestamp);
  EXPECT_FALSE(a->value.relative);
  EXPECT_EQ(a->value.t, 1767225600LL * 1'000'000);
  auto b = bind_where("account", "created_at < @2026-01-01T12:00:00Z");
  EXPECT_EQ(b->value.t, (1767225600LL + 43200) * 1'000'000);
  auto c = bind_where("account", "created_at < @2026-01-01T12:00:00.250+01:00");
  EXPECT_EQ(c->value.t, (1767225600LL + 39600) * 1'000'000 + 250'000);
}

TEST(Bind, RelativeTimestamps) {
  const std::pair<const char*, std::int64_t> cases[] = {
      {"now", 0},
      {"now - 30 days", -30 * day_us},
      {"now + 2 weeks", 14 * day_us},
      {"now - 1 day", -day_us},
      {"now - 1 hour", -3'600'000'000LL},
      {"now - 90 minutes", -5'400'000'000LL},
      {"now + 1 second", 1'000'000},
      {"now - 1.5 hours", -5'400'000'000LL},
      {"now-3 days", -3 * day_us},
  };
  for (const auto& [text, offset] : cases) {
    auto e = bind_where("account", std::string("created_at > ") + text);
    ASSERT_EQ(e->k, bk::compare) << text;
    EXPECT_EQ(e->value.type, value_type::timestamp) << text;
    EXPECT_TRUE(e->value.relative) << text;
    EXPECT_EQ(e->value.offset_us, offset) << text;
  }
}

TEST(Bind, WithinLastAndNext) {
  auto q = bind_where("person", "events.any(timestamp within last 90 days)");
  const auto& a = q->children[0];
  ASSERT_EQ(a->k, bk::between);
  expect_attr(a->attr, "event", "timestamp");
  EXPECT_TRUE(a->value.relative);
  EXPECT_EQ(a->value.type, value_type::timestamp);
  EXPECT_EQ(a->value.offset_us, -90 * day_us);
  EXPECT_TRUE(a->hi.relative);
  EXPECT_EQ(a->hi.type, value_type::timestamp);
  EXPECT_EQ(a->hi.offset_us, 0);
  auto b = bind_where("opportunity", "close_date within next 2 weeks");
  ASSERT_EQ(b->k, bk::between);
  EXPECT_EQ(b->value.offset_us, 0);
  EXPECT_EQ(b->hi.offset_us, 14 * day_us);
}

TEST(Bind, InListsKeepTheirValuesAsWritten) {
  auto a = bind_where("account", R"(industry in ("Software", "Fintech", "Software"))");
  ASSERT_EQ(a->k, bk::in_list);
  EXPECT_FALSE(a->negated);
  ASSERT_EQ(a->values.size(), 3u);
  EXPECT_EQ(a->values[0].s, "Software");
  EXPECT_EQ(a->values[1].s, "Fintech");
  EXPECT_EQ(a->values[2].s, "Software");
  auto b = bind_where("account", "employees not in (1, 2.5)");
  ASSERT_EQ(b->k, bk::in_list);
  EXPECT_TRUE(b->negated);
  EXPECT_EQ(b->values[0].type, value_type::integer);
  EXPECT_EQ(b->values[1].type, value_type::floating);
  auto c = bind_where("account", "created_at in (@2026-01-01, now)");
  EXPECT_FALSE(c->values[0].relative);
  EXPECT_TRUE(c->values[1].relative);
}

TEST(Bind, BetweenOwnsItsAnd) {
  auto e = bind_where("account", "employees between 10 and 100 and is_customer");
  ASSERT_EQ(e->k, bk::and_);
  ASSERT_EQ(e->children.size(), 2u);
  const bound_expr& b = *e->children[0];
  ASSERT_EQ(b.k, bk::between);
  EXPECT_EQ(b.value.i, 10);
  EXPECT_EQ(b.hi.i, 100);
  EXPECT_EQ(e->children[1]->k, bk::compare);
  auto t = bind_where("account", "created_at between @2025-01-01 and now - 1 day");
  EXPECT_FALSE(t->value.relative);
  EXPECT_TRUE(t->hi.relative);
  EXPECT_EQ(t->hi.offset_us, -day_us);
}

TEST(Bind, LikeAndIlike) {
  auto a = bind_where("person", R"(email like "%@acme.com")");
  ASSERT_EQ(a->k, bk::like);
  EXPECT_FALSE(a->case_insensitive);
  EXPECT_EQ(a->value.s, "%@acme.com");
  EXPECT_EQ(a->value.type, value_type::string);
  auto b = bind_where("person", R"(job_title ilike "%vp\\_%")");
  EXPECT_TRUE(b->case_insensitive);
  EXPECT_EQ(b->value.s, "%vp\\_%");
  auto c = bind_where("person", R"(interests like "a%")");
  EXPECT_EQ(c->k, bk::like);
}

TEST(Bind, IsNullOnAttributesAndLinks) {
  auto a = bind_where("account", "industry is null");
  ASSERT_EQ(a->k, bk::is_null);
  EXPECT_FALSE(a->negated);
  expect_attr(a->attr, "account", "industry");
  auto b = bind_where("person", "account.industry is not null");
  ASSERT_EQ(b->k, bk::is_null);
  EXPECT_TRUE(b->negated);
  expect_attr(b->attr, "account", "industry", 1);
  auto c = bind_where("person", "account is null");
  ASSERT_EQ(c->k, bk::link_is_null);
  EXPECT_FALSE(c->negated);
  ASSERT_EQ(c->attr.path.size(), 1u);
  EXPECT_EQ(c->attr.path[0].from, ent("person"));
  EXPECT_EQ(c->attr.path[0].link, link_index("person", "account"));
  auto d = bind_where("person", "account.parent is not null");
  ASSERT_EQ(d->k, bk::link_is_null);
  EXPECT_TRUE(d->negated);
  ASSERT_EQ(d->attr.path.size(), 2u);
  EXPECT_EQ(d->attr.path[1].from, ent("account"));
  EXPECT_EQ(d->attr.path[1].link, link_index("account", "parent"));
}

TEST(Bind, ToOnePathsChain) {
  auto e = bind_where("opportunity_role", R"(opportunity.account.industry = "Software")");
  ASSERT_EQ(e->k, bk::compare);
  expect_attr(e->attr, "account", "industry", 2);
  EXPECT_EQ(e->attr.path[0].from, ent("opportunity_role"));
  EXPECT_EQ(e->attr.path[0].link, link_index("opportunity_role", "opportunity"));
  EXPECT_EQ(e->attr.path[1].from, ent("opportunity"));
  EXPECT_EQ(e->attr.path[1].link, link_index("opportunity", "account"));
  EXPECT_EQ(e->context, ent("opportunity_role"));
}

TEST(Bind, AttributeVersusAttribute) {
  auto a = bind_where("opportunity", "actual_cost > budgeted_cost");
  ASSERT_EQ(a->k, bk::compare_attrs);
  EXPECT_EQ(a->op, cmp_op::gt);
  expect_attr(a->attr, "opportunity", "actual_cost");
  expect_attr(a->attr2, "opportunity", "budgeted_cost");
  auto b = bind_where("opportunity", "close_date > account.created_at");
  ASSERT_EQ(b->k, bk::compare_attrs);
  expect_attr(b->attr, "opportunity", "close_date");
  expect_attr(b->attr2, "account", "created_at", 1);
  auto c = bind_where("opportunity", "account.name = name");
  ASSERT_EQ(c->k, bk::compare_attrs);
  expect_attr(c->attr, "account", "name", 1);
  expect_attr(c->attr2, "opportunity", "name");
}

TEST(Bind, Quantifiers) {
  auto a = bind_where("account", "opportunities.any(not is_closed and amount >= 50000)");
  ASSERT_EQ(a->k, bk::quantified);
  EXPECT_EQ(a->quant, quantifier::any);
  EXPECT_TRUE(a->rel.path.empty());
  EXPECT_EQ(a->rel.owner, ent("account"));
  EXPECT_EQ(a->rel.source, ent("opportunity"));
  EXPECT_EQ(a->rel.link, link_index("opportunity", "account"));
  EXPECT_EQ(b2b().entities[ent("account")].reverses[a->rel.reverse].name, "opportunities");
  ASSERT_EQ(a->children.size(), 1u);
  const bound_expr& p = *a->children[0];
  ASSERT_EQ(p.k, bk::and_);
  EXPECT_EQ(p.context, ent("opportunity"));
  ASSERT_EQ(p.children[0]->k, bk::not_);
  EXPECT_EQ(p.children[0]->context, ent("opportunity"));
  EXPECT_EQ(p.children[0]->children[0]->k, bk::compare);
  expect_attr(p.children[1]->attr, "opportunity", "amount");
  EXPECT_EQ(p.children[1]->value.type, value_type::floating);
  EXPECT_EQ(p.children[1]->value.f, 50000.0);

  auto b = bind_where("account", "opportunities.any()");
  ASSERT_EQ(b->k, bk::quantified);
  EXPECT_TRUE(b->children.empty());
  auto c = bind_where("account", "opportunities.none()");
  EXPECT_EQ(c->quant, quantifier::none);
  EXPECT_TRUE(c->children.empty());
  auto d = bind_where("account", "opportunities.none(is_won)");
  EXPECT_EQ(d->quant, quantifier::none);
  EXPECT_EQ(d->children.size(), 1u);
  auto e = bind_where("account", "opportunities.all(is_closed)");
  EXPECT_EQ(e->quant, quantifier::all);
  EXPECT_EQ(e->children.size(), 1u);
}

TEST(Bind, RelationAfterToOneHops) {
  auto e = bind_where("person", "account.opportunities.none()");
  ASSERT_EQ(e->k, bk::quantified);
  ASSERT_EQ(e->rel.path.size(), 1u);
  EXPECT_EQ(e->rel.path[0].from, ent("person"));
  EXPECT_EQ(e->rel.path[0].link, link_index("person", "account"));
  EXPECT_EQ(e->rel.owner, ent("account"));
  EXPECT_EQ(e->rel.source, ent("opportunity"));
  EXPECT_EQ(e->context, ent("person"));
}

TEST(Bind, NestingChangesTheContext) {
  auto e =
      bind_where("person",
                 R"(opportunity_roles.any(role = "Decision Maker" and opportunity.amount > 100000
           and opportunity.roles.count(person.seniority = "VP") >= 2))");
  ASSERT_EQ(e->k, bk::quantified);
  EXPECT_EQ(e->rel.source, ent("opportunity_role"));
  const bound_expr& p = *e->children[0];
  EXPECT_EQ(p.context, ent("opportunity_role"));
  ASSERT_EQ(p.children.size(), 3u);
  expect_attr(p.children[1]->attr, "opportunity", "amount", 1);
  const bound_expr& cnt = *p.children[2];
  ASSERT_EQ(cnt.k, bk::count);
  EXPECT_EQ(cnt.context, ent("opportunity_role"));
  ASSERT_EQ(cnt.rel.path.size(), 1u);
  EXPECT_EQ(cnt.rel.owner, ent("opportunity"));
  EXPECT_EQ(cnt.rel.source, ent("opportunity_role"));
  ASSERT_EQ(cnt.children.size(), 1u);
  EXPECT_EQ(cnt.children[0]->context, ent("opportunity_role"));
  expect_attr(cnt.children[0]->attr, "person", "seniority", 1);
}

TEST(Bind, Counts) {
  auto a = bind_where("account", "opportunities.count() >= 2");
  ASSERT_EQ(a->k, bk::count);
  EXPECT_EQ(a->fn, aggregate_fn::count);
  EXPECT_TRUE(a->children.empty());
  EXPECT_FALSE(a->test.between);
  EXPECT_EQ(a->test.op, cmp_op::ge);
  EXPECT_EQ(a->test.value.type, value_type::integer);
  EXPECT_EQ(a->test.value.i, 2);

  auto b = bind_where("account", "opportunities.count(is_won) between 1 and 3");
  ASSERT_EQ(b->k, bk::count);
  ASSERT_EQ(b->children.size(), 1u);
  EXPECT_EQ(b->children[0]->context, ent("opportunity"));
  EXPECT_TRUE(b->test.between);
  EXPECT_EQ(b->test.value.i, 1);
  EXPECT_EQ(b->test.hi.i, 3);

  auto c = bind_where("person", R"(events.where(type = "click").count() > 1)");
  ASSERT_EQ(c->k, bk::count);
  ASSERT_EQ(c->children.size(), 1u);
  EXPECT_EQ(c->children[0]->k, bk::compare);
  EXPECT_EQ(c->test.op, cmp_op::gt);

  auto d = bind_where("person", R"(events.where(type = "click").count(count > 2) = 0)");
  ASSERT_EQ(d->children.size(), 1u);
  ASSERT_EQ(d->children[0]->k, bk::and_);
  EXPECT_EQ(d->children[0]->children.size(), 2u);
  EXPECT_EQ(d->children[0]->context, ent("event"));
}

TEST(Bind, Aggregates) {
  auto a = bind_where("account", "opportunities.sum(amount) > 0");
  ASSERT_EQ(a->k, bk::aggregate);
  EXPECT_EQ(a->fn, aggregate_fn::sum);
  EXPECT_TRUE(a->children.empty());
  expect_attr(a->attr, "opportunity", "amount");
  EXPECT_EQ(a->test.op, cmp_op::gt);
  EXPECT_EQ(a->test.value.type, value_type::floating);
  EXPECT_EQ(a->test.value.i, 0);

  auto b = bind_where("account", "opportunities.where(is_won).avg(budgeted_cost) >= 10");
  ASSERT_EQ(b->k, bk::aggregate);
  EXPECT_EQ(b->fn, aggregate_fn::avg);
  ASSERT_EQ(b->children.size(), 1u);
  expect_attr(b->attr, "opportunity", "budgeted_cost");
  EXPECT_EQ(b->test.value.type, value_type::floating);  // avg of an int is fractional
  EXPECT_EQ(b->test.value.f, 10.0);
  EXPECT_EQ(b->test.value.i, 10);

  auto c = bind_where("account", "opportunities.min(budgeted_cost) between 1 and 5");
  EXPECT_EQ(c->fn, aggregate_fn::min);
  EXPECT_EQ(c->test.value.type, value_type::integer);
  EXPECT_TRUE(c->test.between);

  auto d = bind_where("account", "opportunities.max(close_date) > now - 30 days");
  EXPECT_EQ(d->fn, aggregate_fn::max);
  EXPECT_EQ(d->test.value.type, value_type::timestamp);
  EXPECT_TRUE(d->test.value.relative);
  EXPECT_EQ(d->test.value.offset_us, -30 * day_us);

  auto e = bind_where("person", R"(events.where(type = "view").sum(count) >= 100)");
  EXPECT_EQ(e->fn, aggregate_fn::sum);
  expect_attr(e->attr, "event", "count");
  EXPECT_EQ(e->test.value.type, value_type::integer);
}

TEST(Bind, InSegmentAndDependencies) {
  auto f = compile_ok(R"(
segment people_of_targets on person where account.in_segment("targets")
segment targets on account where in_segment("big") and is_customer
segment big on account where employees > 1000
segment both on person where in_segment("people_of_targets") or account.in_segment("big")
  or account.in_segment("targets") or in_segment("people_of_targets")
)");
  ASSERT_EQ(f.segments.size(), 4u);
  const bound_expr& a = *f.segments[0].where;
  ASSERT_EQ(a.k, bk::in_segment);
  EXPECT_EQ(a.segment, 1u);
  ASSERT_EQ(a.attr.path.size(), 1u);
  EXPECT_EQ(a.attr.path[0].link, link_index("person", "account"));
  EXPECT_EQ(a.attr.entity, ent("account"));
  const bound_expr& b = *f.segments[1].where->children[0];
  ASSERT_EQ(b.k, bk::in_segment);
  EXPECT_EQ(b.segment, 2u);
  EXPECT_TRUE(b.attr.path.empty());
  EXPECT_EQ(f.segments[0].depends_on, (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(f.segments[1].depends_on, (std::vector<std::uint32_t>{2}));
  EXPECT_TRUE(f.segments[2].depends_on.empty());
  EXPECT_EQ(f.segments[3].depends_on, (std::vector<std::uint32_t>{0, 2, 1}));
  EXPECT_EQ(f.order, (std::vector<std::uint32_t>{2, 1, 0, 3}));
  EXPECT_EQ(f.find("big"), 2);
  EXPECT_EQ(f.segments[2].entity, ent("account"));
  EXPECT_EQ(f.segments[2].pos.line, 4u);
  EXPECT_EQ(f.segments[2].pos.column, 9u);
}

TEST(Bind, OrderIsTopologicalForManySegments) {
  // A chain of 3000 segments, each referring to the next: iterative ordering, no deep recursion.
  std::string text;
  const int n = 3000;
  for (int i = 0; i < n; ++i) {
    text += "segment s" + std::to_string(i) + " on account where ";
    text += i + 1 < n ? "in_segment(\"s" + std::to_string(i + 1) + "\")\n" : "is_customer\n";
  }
  auto f = compile_ok(text);
  ASSERT_EQ(f.order.size(), static_cast<std::size_t>(n));
  std::vector<int> at(n);
  for (int i = 0; i < n; ++i) at[f.order[i]] = i;
  for (int i = 0; i + 1 < n; ++i) EXPECT_LT(at[i + 1], at[i]);
}

TEST(Bind, Precedence) {
  auto a = bind_where("account", "is_customer or employees > 1 and not industry = \"x\"");
  ASSERT_EQ(a->k, bk::or_);
  ASSERT_EQ(a->children.size(), 2u);
  EXPECT_EQ(a->children[0]->k, bk::compare);
  ASSERT_EQ(a->children[1]->k, bk::and_);
  EXPECT_EQ(a->children[1]->children[1]->k, bk::not_);

  auto b = bind_where("account", "not is_customer and employees > 1");
  ASSERT_EQ(b->k, bk::and_);
  EXPECT_EQ(b->children[0]->k, bk::not_);

  auto c = bind_where("account", "not (is_customer and employees > 1)");
  ASSERT_EQ(c->k, bk::not_);
  EXPECT_EQ(c->children[0]->k, bk::and_);

  auto d = bind_where("account", "(is_customer or employees > 1) and tags = \"x\"");
  ASSERT_EQ(d->k, bk::and_);
  EXPECT_EQ(d->children[0]->k, bk::or_);

  auto e = bind_where("account",
                      "is_customer and employees > 1 and tags = \"x\" or not not "
                      "is_customer");
  ASSERT_EQ(e->k, bk::or_);
  EXPECT_EQ(e->children[0]->children.size(), 3u);
  EXPECT_EQ(e->children[1]->k, bk::not_);
  EXPECT_EQ(e->children[1]->children[0]->k, bk::not_);
}

TEST(Bind, BacktickNamesAndNonReservedWords) {
  auto a = bind_where("person", "`last` = \"Smith\"");
  expect_attr(a->attr, "person", "last");
  auto b = bind_where("person", "events.any(count > 3 and `timestamp` within last 1 week)");
  expect_attr(b->children[0]->children[0]->attr, "event", "count");
  auto c = bind_where("account", "`opportunities`.`any`(`is_closed`)");
  EXPECT_EQ(c->k, bk::quantified);
  auto d = bind_where("person", "events.where(count > 1).max(count) > 3");
  EXPECT_EQ(d->k, bk::aggregate);
}

TEST(Bind, ConstantsAndPositions) {
  auto a = bind_where("account", "true");
  ASSERT_EQ(a->k, bk::constant);
  EXPECT_TRUE(a->constant);
  EXPECT_EQ(a->pos.line, 1u);
  EXPECT_EQ(a->pos.column, 28u);
  auto b = bind_where("account", "false or is_customer");
  EXPECT_FALSE(b->children[0]->constant);
  EXPECT_EQ(b->children[1]->pos.column, 37u);
}

TEST(Bind, SpecExamples) {
  auto f = compile_ok(R"(# Accounts worth a sales push
segment target_accounts on account where
    industry in ("Software", "Fintech")
    and employees >= 1000
    and opportunities.any(not is_closed and amount >= 50000)

# Their buying committee, engaged recently
segment buying_committee on person where
    account.in_segment("target_accounts")
    and seniority in ("VP", "C-Level", "Director")
    and events.where(type = "webinar.attended"
                     and timestamp within last 90 days).count() >= 1
)");
  ASSERT_EQ(f.segments.size(), 2u);
  EXPECT_EQ(f.segments[0].name, "target_accounts");
  EXPECT_EQ(f.segments[0].entity, ent("account"));
  EXPECT_EQ(f.segments[1].entity, ent("person"));
  EXPECT_EQ(f.order, (std::vector<std::uint32_t>{0, 1}));
  const bound_expr& t = *f.segments[0].where;
  ASSERT_EQ(t.k, bk::and_);
  ASSERT_EQ(t.children.size(), 3u);
  EXPECT_EQ(t.children[0]->k, bk::in_list);
  EXPECT_EQ(t.children[1]->k, bk::compare);
  EXPECT_EQ(t.children[2]->k, bk::quantified);
  const bound_expr& c = *f.segments[1].where;
  ASSERT_EQ(c.k, bk::and_);
  ASSERT_EQ(c.children.size(), 3u);
  EXPECT_EQ(c.children[0]->k, bk::in_segment);
  EXPECT_EQ(c.children[0]->segment, 0u);
  const bound_expr& cnt = *c.children[2];
  ASSERT_EQ(cnt.k, bk::count);
  ASSERT_EQ(cnt.children.size(), 1u);
  const bound_expr& filt = *cnt.children[0];
  ASSERT_EQ(filt.k, bk::and_);
  EXPECT_EQ(filt.children[1]->k, bk::between);
  EXPECT_EQ(filt.children[1]->value.offset_us, -90 * day_us);
  EXPECT_EQ(f.segments[1].depends_on, (std::vector<std::uint32_t>{0}));

  // The SPEC's other snippets.
  compile_ok(R"(segment a on person where
  opportunity_roles.any(role = "Decision Maker" and opportunity.amount > 100000)
segment b on opportunity where actual_cost > budgeted_cost and close_date > account.created_at
segment c on opportunity_role where opportunity.account.industry != "x"
segment d on person where account.opportunities.none() and not account.in_segment("t")
segment t on account where tags = "x" or name = "y"
segment u on person where `last` = "x" or (account.name = "y")
)");
}

TEST(Bind, DeepButAllowedNesting) {
  // 199 levels inside the top one is the most allowed; one more is an error.
  for (int levels : {199, 200}) {
    std::string expr;
    for (int i = 0; i < levels; ++i) expr += "(";
    expr += "is_customer";
    for (int i = 0; i < levels; ++i) expr += ")";
    std::string nested = "is_won";
    for (int i = 0; i < levels; ++i) nested = "account.opportunities.any(" + nested + ")";
    if (levels == 199) {
      EXPECT_EQ(bind_where("account", expr)->k, bk::compare);
      EXPECT_EQ(bind_where("opportunity", nested)->k, bk::quantified);
    } else {
      EXPECT_EQ(message_of("account", expr), "expression nested too deeply (more than 200 levels)");
      EXPECT_EQ(message_of("opportunity", nested),
                "expression nested too deeply (more than 200 levels)");
    }
  }
}

TEST(Bind, TestSchemaIsValidAndSpecSchemaJsonWorks) {
  // The hand-linked test schema is what schema validation makes of it.
  schema checked = test::b2b_schema();
  ASSERT_NO_THROW(validate_schema(checked, "test"));
  for (std::size_t i = 0; i < checked.entities.size(); ++i) {
    ASSERT_EQ(checked.entities[i].reverses.size(), b2b().entities[i].reverses.size());
    for (std::size_t r = 0; r < checked.entities[i].reverses.size(); ++r)
      EXPECT_EQ(checked.entities[i].reverses[r].name, b2b().entities[i].reverses[r].name);
  }
  // The schema.json of SPEC 2.1, as loaded from a dataset.
  const schema spec = parse_schema(R"({
  "entities": {
    "account": {
      "file": "account.csv", "key": "account_id",
      "attributes": { "name": "string", "industry": "string", "employees": "int",
        "annual_revenue": "float", "is_customer": "bool", "created_at": "timestamp",
        "tags": "string[]" }
    },
    "person": {
      "file": "person.csv", "key": "person_id",
      "attributes": { "email": "string", "seniority": "string" },
      "links": { "account": { "column": "account_id", "to": "account", "reverse": "people" } }
    },
    "event": {
      "file": "event.csv",
      "attributes": { "type": "string", "timestamp": "timestamp" },
      "links": { "person": { "column": "person_id", "to": "person", "reverse": "events" } }
    }
  }
})",
                                   "schema.json");
  const bound_file f = compile_segments(R"(
segment target_accounts on account where industry in ("Software", "Fintech") and employees >= 1000
  and people.count(seniority = "VP") >= 1
segment buying_committee on person where
    account.in_segment("target_accounts")
    and seniority in ("VP", "C-Level", "Director")
    and events.where(type = "webinar.attended"
                     and timestamp within last 90 days).count() >= 1
)",
                                        spec);
  ASSERT_EQ(f.segments.size(), 2u);
  EXPECT_EQ(f.segments[1].where->children[2]->rel.source, spec.find_entity("event"));
}

// --- errors --------------------------------------------------------------------------------

TEST(Errors, UnknownAttributeWithSuggestion) {
  EXPECT_EQ(errors_of("segment a on account where industy = \"x\"", "seg.txt"),
            "seg.txt:1:28: error: unknown attribute 'industy' of entity 'account'; did you mean "
            "'industry'?\n"
            "  segment a on account where industy = \"x\"\n"
            "                             ^\n");
}

TEST(Errors, UnknownAttributeWithoutSuggestion) {
  EXPECT_EQ(errors_of("segment a on account where\n  revenue > 1"),
            "<segments>:2:3: error: unknown attribute 'revenue' of entity 'account'\n"
            "    revenue > 1\n"
            "    ^\n");
}

TEST(Errors, UnknownEntity) {
  EXPECT_EQ(errors_of("segment a on acount where is_customer"),
            "<segments>:1:14: error: unknown entity 'acount'; did you mean 'account'?\n"
            "  segment a on acount where is_customer\n"
            "               ^\n");
}

TEST(Errors, UnknownLinkRelationAndSegment) {
  EXPECT_EQ(errors_of("segment a on person where acount.industry = \"x\""),
            "<segments>:1:27: error: unknown link 'acount' of entity 'person'; did you mean "
            "'account'?\n"
            "  segment a on person where acount.industry = \"x\"\n"
            "                            ^\n");
  EXPECT_EQ(errors_of("segment a on account where oportunities.any()"),
            "<segments>:1:28: error: unknown relation 'oportunities' of entity 'account'; did you "
            "mean 'opportunities'?\n"
            "  segment a on account where oportunities.any()\n"
            "                             ^\n");
  EXPECT_EQ(errors_of("segment big on account where employees > 1\n"
                      "segment a on account where in_segment(\"bgi\")"),
            "<segments>:2:39: error: unknown segment 'bgi'; did you mean 'big'?\n"
            "  segment a on account where in_segment(\"bgi\")\n"
            "                                        ^\n");
  EXPECT_EQ(message_of("person", "account is nul"),
            "expected 'null' or 'not null' after 'is', found 'nul'");
  EXPECT_EQ(message_of("person", "acount is null"),
            "unknown attribute or link 'acount' of entity 'person'; did you mean 'account'?");
  EXPECT_EQ(message_of("account", "opportunities.count(is_wno) > 1"),
            "unknown attribute 'is_wno' of entity 'opportunity'; did you mean 'is_won'?");
  EXPECT_EQ(message_of("account", "opportunities.sum(amuont) > 1"),
            "unknown attribute 'amuont' of entity 'opportunity'; did you mean 'amount'?");
  EXPECT_EQ(message_of("account", "opportunities.anny()"),
            "unknown function 'anny'; did you mean 'any'?");
}

TEST(Errors, WrongKindOfName) {
  EXPECT_EQ(message_of("person", "account = \"x\""),
            "'account' is a link of entity 'person', not an attribute; compare one of its "
            "attributes, as in 'account.NAME', or test 'account is null'");
  EXPECT_EQ(message_of("account", "opportunities > 1"),
            "'opportunities' is a to-many relation of entity 'account', not an attribute; test it "
            "with any(), none(), all(), count() or an aggregate");
  EXPECT_EQ(message_of("account", "opportunities.amount > 1"),
            "'opportunities' is a to-many relation of entity 'account'; only to-one links can be "
            "followed with '.'; test it with any(), none(), all(), count() or an aggregate");
  EXPECT_EQ(message_of("account", "industry.name = \"x\""),
            "'industry' is an attribute of entity 'account', not a link");
  EXPECT_EQ(message_of("person", "account.any()"),
            "'account' is a to-one link of entity 'person', not a to-many relation; follow it "
            "with '.', as in 'account.NAME'");
  EXPECT_EQ(message_of("account", "industry.count() > 1"),
            "'industry' is an attribute of entity 'account', not a to-many relation");
  EXPECT_EQ(message_of("account", "opportunities is null"),
            "'opportunities' is a to-many relation of entity 'account'; test it with "
            "opportunities.any() or opportunities.none() instead of 'is null'");
  EXPECT_EQ(message_of("account", "any()"),
            "'any(...)' must follow a relation, as in 'opportunities.any(...)'");
}

TEST(Errors, TypeMismatches) {
  EXPECT_EQ(errors_of("segment a on account where employees = \"many\""),
            "<segments>:1:40: error: cannot compare int attribute 'employees' with a string\n"
            "  segment a on account where employees = \"many\"\n"
            "                                         ^\n");
  EXPECT_EQ(message_of("account", "industry > 3"),
            "cannot compare string attribute 'industry' with a number");
  EXPECT_EQ(message_of("account", "is_customer = 1"),
            "cannot compare bool attribute 'is_customer' with a number");
  EXPECT_EQ(message_of("account", "created_at > 5"),
            "cannot compare timestamp attribute 'created_at' with a number");
  EXPECT_EQ(message_of("account", "employees > now - 3 days"),
            "cannot compare int attribute 'employees' with a timestamp");
  EXPECT_EQ(message_of("person", "account.employees in (1, \"x\")"),
            "cannot compare int attribute 'account.employees' with a string");
  EXPECT_EQ(message_of("account", "tags = true"),
            "cannot compare string[] attribute 'tags' with a bool");
  EXPECT_EQ(message_of("account", "employees between \"a\" and 3"),
            "cannot compare int attribute 'employees' with a string");
  EXPECT_EQ(message_of("opportunity", "amount > name"),
            "cannot compare float attribute 'amount' with string attribute 'name'");
  EXPECT_EQ(message_of("opportunity", "close_date > account.employees"),
            "cannot compare timestamp attribute 'close_date' with int attribute "
            "'account.employees'");
  EXPECT_EQ(message_of("account", "tags = industry"),
            "cannot compare string[] attribute 'tags' with another attribute");
  EXPECT_EQ(message_of("account", "employees like \"1%\""),
            "cannot use 'like' on int attribute 'employees'; it needs a string attribute");
  EXPECT_EQ(message_of("account", "is_customer ilike \"t%\""),
            "cannot use 'ilike' on bool attribute 'is_customer'; it needs a string attribute");
  EXPECT_EQ(message_of("account", "employees within last 3 days"),
            "cannot use 'within' on int attribute 'employees'; it needs a timestamp attribute");
  EXPECT_EQ(message_of("account", "employees"),
            "int attribute 'employees' is not a condition; compare it with a value (only a bool "
            "attribute stands alone)");
  EXPECT_EQ(message_of("account", "opportunities.count() > \"x\""),
            "cannot compare count() with a string");
  EXPECT_EQ(message_of("account", "opportunities.count() > now"),
            "cannot compare count() with a timestamp");
  EXPECT_EQ(message_of("account", "opportunities.max(close_date) > 3"),
            "cannot compare max(close_date) with a number");
  EXPECT_EQ(message_of("account", "opportunities.sum(amount) between 1 and @2026-01-01"),
            "cannot compare sum(amount) with a timestamp");
}

TEST(Errors, AggregateOfNonNumeric) {
  EXPECT_EQ(errors_of("segment a on account where opportunities.sum(name) > 0"),
            "<segments>:1:46: error: cannot aggregate string attribute 'name'; sum() needs a "
            "numeric or timestamp attribute\n"
            "  segment a on account where opportunities.sum(name) > 0\n"
            "                                               ^\n");
  EXPECT_EQ(message_of("account", "opportunities.where(is_won).avg(is_closed) > 0"),
            "cannot aggregate bool attribute 'is_closed'; avg() needs a numeric or timestamp "
            "attribute");
  EXPECT_EQ(message_of("account", "opportunities.sum(close_date) > 0"),
            "cannot sum timestamp attribute 'close_date'; use min(), max() or avg()");
}

TEST(Errors, DuplicateSegment) {
  EXPECT_EQ(errors_of("segment a on account where is_customer\n"
                      "segment a on person where is_subscribed\n"),
            "<segments>:2:9: error: segment 'a' is already defined at line 1\n"
            "  segment a on person where is_subscribed\n"
            "          ^\n");
}

TEST(Errors, ReferenceCycles) {
  EXPECT_EQ(errors_of("segment a on account where in_segment(\"b\")\n"
                      "segment b on account where is_customer and in_segment(\"a\")\n"),
            "<segments>:1:28: error: segment 'a' depends on itself: a -> b -> a\n"
            "  segment a on account where in_segment(\"b\")\n"
            "                             ^\n");
  EXPECT_EQ(message_of("account", "in_segment(\"s\")"), "segment 's' depends on itself: s -> s");
  // Two separate cycles are two errors; a segment that only refers to a cycle is not one.
  auto ds = diagnostics_of(R"(
segment a on account where in_segment("b")
segment b on account where in_segment("c")
segment c on account where in_segment("a") or in_segment("b")
segment d on account where in_segment("a")
segment e on person where in_segment("f")
segment f on person where in_segment("e")
)");
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds[0].message, "segment 'a' depends on itself: a -> b -> c -> a");
  EXPECT_EQ(ds[0].line, 2u);
  EXPECT_EQ(ds[1].message, "segment 'e' depends on itself: e -> f -> e");
  EXPECT_EQ(ds[1].line, 6u);
}

TEST(Errors, OnEntityWithoutKey) {
  EXPECT_EQ(errors_of("segment clicks on event where type = \"click\""),
            "<segments>:1:19: error: entity 'event' has no key and cannot be the 'on' entity of a "
            "segment\n"
            "  segment clicks on event where type = \"click\"\n"
            "                    ^\n");
}

TEST(Errors, InSegmentOfAnotherEntity) {
  EXPECT_EQ(errors_of("segment t on account where is_customer\n"
                      "segment p on person where in_segment(\"t\")\n"),
            "<segments>:2:38: error: segment 't' is on entity 'account', but in_segment is applied "
            "to 'person'\n"
            "  segment p on person where in_segment(\"t\")\n"
            "                                       ^\n");
  EXPECT_EQ(message_of("opportunity_role", "person.account.in_segment(\"s\")"),
            "segment 's' is on entity 'opportunity_role', but in_segment is applied to 'account'");
}

TEST(Errors, LexicalErrors) {
  EXPECT_EQ(errors_of("segment a on account where industry = \"Soft\n"),
            "<segments>:1:39: error: unterminated string\n"
            "  segment a on account where industry = \"Soft\n"
            "                                        ^\n");
  EXPECT_EQ(errors_of("segment a on account where industry = \"a\\qb\""),
            "<segments>:1:41: error: bad escape '\\q' in string: write \\\" \\\\ \\n \\t or "
            "\\uXXXX\n"
            "  segment a on account where industry = \"a\\qb\"\n"
            "                                          ^\n");
  EXPECT_EQ(message_of("account", "industry = \"\\u12G4\""),
            "bad escape '\\u12' in string: \\u needs 4 hex digits");
  EXPECT_EQ(message_of("account", "industry = \"\\uD800\""),
            "bad escape '\\uD800' in string: unpaired surrogate");
  EXPECT_EQ(errors_of("segment a on account where employees > 12abc"),
            "<segments>:1:40: error: bad number '12abc'\n"
            "  segment a on account where employees > 12abc\n"
            "                                         ^\n");
  EXPECT_EQ(message_of("account", "employees > 1.5.2"), "bad number '1.5.2'");
  EXPECT_EQ(message_of("account", "employees > 1e"), "bad number '1e'");
  EXPECT_EQ(message_of("account", "employees > 3."), "bad number '3.'");
  EXPECT_EQ(message_of("account", "employees > 99999999999999999999"),
            "bad number '99999999999999999999': out of the 64-bit range");
  EXPECT_EQ(message_of("account", "employees > 1e999"), "bad number '1e999': out of range");
  EXPECT_EQ(errors_of("segment a on account where created_at > @2026-13-01"),
            "<segments>:1:41: error: bad timestamp literal '@2026-13-01'; write @YYYY-MM-DD or "
            "@YYYY-MM-DDThh:mm:ssZ\n"
            "  segment a on account where created_at > @2026-13-01\n"
            "                                          ^\n");
  EXPECT_EQ(message_of("account", "created_at > @2026-02-30"),
            "bad timestamp literal '@2026-02-30'; write @YYYY-MM-DD or @YYYY-MM-DDThh:mm:ssZ");
  EXPECT_EQ(message_of("account", "created_at > @"),
            "bad timestamp literal '@'; write @YYYY-MM-DD or @YYYY-MM-DDThh:mm:ssZ");
  EXPECT_EQ(message_of("account", "employees $ 3"), "unexpected character '$'");
  EXPECT_EQ(message_of("account", "employees == 3"),
            "'==' is not an operator; write '=' to test equality");
  EXPECT_EQ(message_of("account", "employees <> 3"),
            "'<>' is not an operator; write '!=' to test inequality");
  EXPECT_EQ(message_of("account", "`bad name` = 3"),
            "bad quoted name '`bad name`': a name starts with a letter or '_' and holds letters, "
            "digits and '_'");
  EXPECT_EQ(message_of("account", "`open = 3"), "unterminated quoted name");
  EXPECT_EQ(message_of("account", "industry = \"a\" \xC3\xA9"), "unexpected character '\xC3\xA9'");
  EXPECT_EQ(message_of("account", std::string("industry = \"a\" \x01")), "unexpected byte 0x01");
}

TEST(Errors, SyntaxErrors) {
  EXPECT_EQ(errors_of("segment a on account is_customer"),
            "<segments>:1:22: error: expected 'where' after entity name, found 'is_customer'\n"
            "  segment a on account is_customer\n"
            "                       ^\n");
  EXPECT_EQ(errors_of("segment a on account where is_customer)"),
            "<segments>:1:39: error: unexpected ')'\n"
            "  segment a on account where is_customer)\n"
            "                                        ^\n");
  EXPECT_EQ(errors_of("segment a on account where (is_customer"),
            "<segments>:1:40: error: expected ')', found end of file\n"
            "  segment a on account where (is_customer\n"
            "                                         ^\n");
  EXPECT_EQ(message_of("account", ")"), "unexpected ')'");
  EXPECT_EQ(message_of("account", ""), "expected a condition, found end of file");
  EXPECT_EQ(message_of("account", "and is_customer"), "expected a condition, found 'and'");
  EXPECT_EQ(message_of("account", "is_customer employees"),
            "expected 'and', 'or' or the next 'segment', found 'employees'");
  EXPECT_EQ(message_of("account", "employees >"), "expected a value after '>', found end of file");
  EXPECT_EQ(message_of("account", "employees = null"),
            "compare with null using 'is null' or 'is not null'");
  EXPECT_EQ(message_of("account", "employees not (1)"), "expected 'in' after 'not', found '('");
  EXPECT_EQ(message_of("account", "employees in 1"), "expected '(' after 'in', found '1'");
  EXPECT_EQ(message_of("account", "employees in ()"), "expected a value after '(', found ')'");
  EXPECT_EQ(message_of("account", "employees in (1 2)"),
            "expected ',' or ')' in the list, found '2'");
  EXPECT_EQ(message_of("account", "employees between 1 or 2"),
            "expected 'and' between the bounds of 'between', found 'or'");
  EXPECT_EQ(message_of("account", "industry like x"),
            "expected a string pattern after 'like', found 'x'");
  EXPECT_EQ(message_of("account", "created_at within 3 days"),
            "expected 'last' or 'next' after 'within', found '3'");
  EXPECT_EQ(message_of("account", "created_at within last days"),
            "expected a duration such as '30 days' after 'within last', found 'days'");
  EXPECT_EQ(message_of("account", "created_at within last 3 fortnights"),
            "expected a duration unit (weeks, days, hours, minutes or seconds) after '3', found "
            "'fortnights'");
  EXPECT_EQ(message_of("account", "created_at > now - 3"),
            "expected a duration unit (weeks, days, hours, minutes or seconds) after '3', found "
            "end of file");
  EXPECT_EQ(message_of("account", "created_at > 3 days"),
            "a duration is only valid after 'now -', 'now +' or 'within last/next'");
  EXPECT_EQ(message_of("account", "created_at > now - 99999999999999 weeks"),
            "duration '99999999999999 weeks' is out of range");
  EXPECT_EQ(message_of("account", "employees > -x"), "expected a number after '-', found 'x'");
  EXPECT_EQ(message_of("person", "last = \"x\""),
            "'last' is a keyword; write `last` to use it as a name");
  EXPECT_EQ(message_of("account", "opportunities.count()"),
            "expected a comparison such as '>= 1' or 'between 1 and 5' after count(), found end of "
            "file");
  EXPECT_EQ(message_of("account", "opportunities.sum(amount)"),
            "expected a comparison such as '>= 1' or 'between 1 and 5' after sum(amount), found "
            "end of file");
  EXPECT_EQ(message_of("account", "opportunities.where(is_won)"),
            "expected '.count()', '.sum(...)', '.avg(...)', '.min(...)' or '.max(...)' after "
            "'where(...)', found end of file");
  EXPECT_EQ(message_of("account", "opportunities.where(is_won).any()"),
            "expected '.count()', '.sum(...)', '.avg(...)', '.min(...)' or '.max(...)' after "
            "'where(...)', found 'any'");
  EXPECT_EQ(message_of("account", "opportunities.where().count() > 1"),
            "where(...) needs a condition, as in 'where(amount > 0)'");
  EXPECT_EQ(message_of("account", "opportunities.all()"),
            "all(...) needs a condition, as in 'opportunities.all(is_closed)'");
  EXPECT_EQ(message_of("account", "opportunities.sum(account.employees) > 1"),
            "sum(...) takes an attribute of the related entity, not a path");
  EXPECT_EQ(message_of("account", "in_segment(x)"),
            "expected a segment name in double quotes after 'in_segment(', found 'x'");
  EXPECT_EQ(message_of("account", "employees > parent.employees()"),
            "the right side of '>' must be a value or an attribute");
  EXPECT_EQ(message_of("account", "parent."), "expected a name after '.', found end of file");
  EXPECT_EQ(message_of("account", "parent.next = 1"),
            "'next' is a keyword; write `next` to use it as a name");
  EXPECT_EQ(errors_of("segment on account where is_customer"),
            "<segments>:1:9: error: expected a segment name after 'segment', found 'on'\n"
            "  segment on account where is_customer\n"
            "          ^\n");
  EXPECT_EQ(errors_of("where is_customer"),
            "<segments>:1:1: error: expected 'segment' or 'segmentation' to start a definition, "
            "found 'where'\n"
            "  where is_customer\n"
            "  ^\n");
  EXPECT_EQ(message_of("account", "employees > 1 segment"),
            "expected a segment name after 'segment', found end of file");
}

TEST(Bind, BucketIsAnIntOfTheKey) {
  auto e = bind_where("person", "bucket(\"q4-holdout\", 100) < 10");
  EXPECT_EQ(e->k, bound_expr::kind::compare);
  ASSERT_TRUE(e->bucket.has_value());
  EXPECT_EQ(e->bucket->salt, "q4-holdout");
  EXPECT_EQ(e->bucket->n, 100u);
  EXPECT_EQ(e->op, cmp_op::lt);
  EXPECT_EQ(e->value.i, 10);
  EXPECT_EQ(e->text, "bucket(\"q4-holdout\", 100) < 10");
  auto in = bind_where("person", "bucket(\"a\", 2147483648) not in (1, 2)");
  EXPECT_EQ(in->k, bound_expr::kind::in_list);
  EXPECT_TRUE(in->negated);
  EXPECT_EQ(in->bucket->n, 2147483648u);
  EXPECT_EQ(in->values.size(), 2u);
  auto bw = bind_where("account", "people.any(bucket(\"\", 4) between 1 and 2)");
  ASSERT_EQ(bw->children.size(), 1u);
  EXPECT_EQ(bw->children[0]->k, bound_expr::kind::between);
  EXPECT_EQ(bw->children[0]->context, ent("person"));
  EXPECT_TRUE(bw->children[0]->bucket.has_value());
}

TEST(Bind, SegmentationBucketsExcludeTheEarlierOnes) {
  bound_file f = compile_ok(
      "segmentation life on person\n"
      "  bucket vip where seniority = \"VP\"\n"
      "  bucket warm where score > 50 or is_subscribed\n"
      "  else cold\n"
      "segment again on person where in_segment(\"life.warm\")\n");
  ASSERT_EQ(f.segments.size(), 4u);
  EXPECT_EQ(f.segments[0].name, "life.vip");
  EXPECT_EQ(f.segments[1].name, "life.warm");
  EXPECT_EQ(f.segments[2].name, "life.cold");
  EXPECT_EQ(f.segments[3].name, "again");
  EXPECT_EQ(f.segments[0].where->k, bound_expr::kind::compare);
  const bound_expr& warm = *f.segments[1].where;
  ASSERT_EQ(warm.k, bound_expr::kind::and_);
  ASSERT_EQ(warm.children.size(), 2u);
  EXPECT_EQ(warm.children[0]->k, bound_expr::kind::or_);
  EXPECT_EQ(warm.children[1]->k, bound_expr::kind::not_);
  EXPECT_EQ(warm.children[1]->children[0]->segment, 0u);
  EXPECT_EQ(warm.text, "(score > 50 or is_subscribed) and not in_segment(\"life.vip\")");
  const bound_expr& cold = *f.segments[2].where;
  ASSERT_EQ(cold.children.size(), 2u);
  EXPECT_EQ(cold.children[1]->children[0]->segment, 1u);
  EXPECT_EQ(f.segments[3].depends_on, std::vector<std::uint32_t>{1});
}

TEST(Bind, TextIsTheSourceOfEachSubExpression) {
  auto e = bind_where("account",
                      "(industry = \"Software\"\n      or  employees >= 10)  and\n"
                      "  opportunities.where(not is_closed).count() >= 2");
  EXPECT_EQ(e->text,
            "(industry = \"Software\" or  employees >= 10)  and opportunities.where(not "
            "is_closed).count() >= 2");
  EXPECT_EQ(e->children[0]->text, "industry = \"Software\" or  employees >= 10");
  EXPECT_EQ(e->children[0]->children[1]->text, "employees >= 10");
  EXPECT_EQ(e->children[1]->children[0]->text, "not is_closed");
}

TEST(Bind, SequencesAndTops) {
  auto seq = bind_where("person",
                        "events.sequence(timestamp, type = \"a\" then (type = \"b\" or type = "
                        "\"c\") then timestamp within last 3 days within 14 days)");
  ASSERT_EQ(seq->k, bound_expr::kind::sequence);
  EXPECT_EQ(seq->rel.source, ent("event"));
  EXPECT_EQ(seq->attr.type, value_type::timestamp);
  ASSERT_EQ(seq->children.size(), 3u);
  EXPECT_EQ(seq->children[1]->k, bound_expr::kind::or_);
  EXPECT_EQ(seq->children[2]->k, bound_expr::kind::between);  // `within last 3 days`
  EXPECT_EQ(seq->within_us, 14 * day_us);
  EXPECT_EQ(seq->children[0]->context, ent("event"));
  auto one = bind_where("person", "events.sequence(timestamp, type = \"a\")");
  EXPECT_FALSE(one->within_us.has_value());
  auto top = bind_where("opportunity",
                        "top(3, by amount desc, by name, per account, where not is_closed)");
  ASSERT_EQ(top->k, bound_expr::kind::top);
  EXPECT_EQ(top->top_n, 3u);
  ASSERT_EQ(top->order.size(), 2u);
  EXPECT_TRUE(top->order[0].desc);
  EXPECT_FALSE(top->order[1].desc);
  EXPECT_EQ(top->order[0].attribute, attr_index("opportunity", "amount"));
  EXPECT_EQ(top->per_link, 0);
  ASSERT_EQ(top->children.size(), 1u);
  EXPECT_EQ(top->children[0]->k, bound_expr::kind::not_);
  auto global = bind_where("account", "top(1, by employees) and industry = \"x\"");
  EXPECT_EQ(global->children[0]->per_link, -1);
}

TEST(Errors, SequencesAndTops) {
  EXPECT_EQ(message_of("person", "events.sequence(type, type = \"a\")"),
            "sequence(...) orders its steps by a timestamp, and string attribute 'type' is not "
            "one");
  EXPECT_EQ(message_of("person", "events.sequence(timestamp)"),
            "expected ',' and the first step after the timestamp of sequence(, found ')'");
  EXPECT_EQ(message_of("person", "events.sequence(timestamp, type = \"a\" within 3)"),
            "expected a duration unit (weeks, days, hours, minutes or seconds) after '3', found "
            "')'");
  EXPECT_EQ(message_of("person", "sequence(timestamp, true)"),
            "'sequence(...)' must follow a relation, as in 'events.sequence(...)'");
  EXPECT_EQ(message_of("person", "events.sequence(stamp, true)"),
            "unknown attribute 'stamp' of entity 'event'");
  EXPECT_EQ(message_of("opportunity", "top(3, per account)"),
            "top(...) needs at least one 'by' key, as in 'top(3, by amount desc)'");
  EXPECT_EQ(message_of("opportunity", "top(0, by amount)"), "top(N, ...) needs N of at least 1");
  EXPECT_EQ(message_of("opportunity", "top(-2, by amount)"), "top(N, ...) needs N of at least 1");
  EXPECT_EQ(message_of("opportunity", "top(x, by amount)"),
            "expected the number of entities in top(...), as in 'top(3, by amount desc)', found "
            "'x'");
  EXPECT_EQ(message_of("opportunity", "top(3, by amout)"),
            "unknown attribute 'amout' of entity 'opportunity'; did you mean 'amount'?");
  EXPECT_EQ(message_of("account", "top(3, by tags)"),
            "cannot rank by string[] attribute 'tags'; top(...) ranks by attributes of one "
            "value");
  EXPECT_EQ(message_of("opportunity", "top(3, by amount, per acount)"),
            "'per' groups by a to-one link, and entity 'opportunity' has no link 'acount'; did "
            "you mean 'account'?");
  EXPECT_EQ(message_of("person", "events.any(top(1, by timestamp))"),
            "top(...) breaks ties by the key, and entity 'event' has no key");
  EXPECT_EQ(message_of("opportunity", "top(3, by amount, sort amount)"),
            "expected 'by', 'per' or 'where' in top(...), found 'sort'");
}

TEST(Errors, BucketsAndSegmentations) {
  EXPECT_EQ(message_of("person", "events.any(bucket(\"x\", 10) < 5)"),
            "bucket(...) hashes the key, and entity 'event' has no key");
  EXPECT_EQ(message_of("person", "bucket(\"x\", 0) < 5"),
            "the number of buckets must be between 1 and 2147483648");
  EXPECT_EQ(message_of("person", "bucket(\"x\", 2147483649) < 5"),
            "the number of buckets must be between 1 and 2147483648");
  EXPECT_EQ(message_of("person", "bucket(\"x\", 99999999999999999999) < 5"),
            "the number of buckets must be between 1 and 2147483648");
  EXPECT_EQ(message_of("person", "bucket(\"x\", 10) = \"a\""),
            "cannot compare bucket(...), an int, with a string");
  EXPECT_EQ(message_of("person", "bucket(\"x\", 10)"),
            "bucket(...) is a number: compare it, as in 'bucket(\"x\", 100) < 10', found end of "
            "file");
  EXPECT_EQ(message_of("person", "bucket(x, 10) < 1"),
            "expected a salt in double quotes after 'bucket(', as in 'bucket(\"q4\", 100)', found "
            "'x'");
  EXPECT_EQ(message_of("person", "bucket(\"x\", 1.5) < 1"),
            "expected the number of buckets (an integer) in bucket(...), found '1.5'");
  EXPECT_EQ(message_of("person", "bucket = 1"),
            "'bucket' is a keyword; write `bucket` to use it as a name");
  // A segment name has no dot, so only another segmentation of the same name can clash.
  EXPECT_EQ(errors_of("segmentation life on person bucket vip where true\n"
                      "segmentation life on person bucket vip where true\n"),
            "<segments>:2:36: error: segment 'life.vip' is already defined at line 1\n"
            "  segmentation life on person bucket vip where true\n"
            "                                     ^\n");
  EXPECT_EQ(errors_of("segmentation t on person bucket a where true bucket a where false\n"),
            "<segments>:1:53: error: segment 't.a' is already defined at line 1\n"
            "  segmentation t on person bucket a where true bucket a where false\n"
            "                                                      ^\n");
  EXPECT_EQ(errors_of("segmentation t on person else rest\n"),
            "<segments>:1:26: error: expected 'bucket NAME where ...' in segmentation 't', found "
            "'else'\n"
            "  segmentation t on person else rest\n"
            "                           ^\n");
  EXPECT_EQ(errors_of("segmentation t on person bucket a where true else b bucket c where true\n"),
            "<segments>:1:53: error: nothing may follow the 'else' bucket, found 'bucket'\n"
            "  segmentation t on person bucket a where true else b bucket c where true\n"
            "                                                      ^\n");
  EXPECT_EQ(errors_of("segmentation t on event bucket a where true\n"),
            "<segments>:1:19: error: entity 'event' has no key and cannot be the 'on' entity of "
            "a segment\n"
            "  segmentation t on event bucket a where true\n"
            "                    ^\n");
  // After an error in a segmentation, compiling goes on at the next definition.
  EXPECT_EQ(diagnostics_of("segmentation t on person bucket where true\n"
                           "segment s on person where nope\n")
                .size(),
            2u);
}

TEST(Errors, AllErrorsOfAFileAreReported) {
  // Syntax errors recover at the next `segment`; binding errors are all reported; lexical errors
  // too; everything comes out in source order.
  const std::string text =
      "segment a on account where industy = \"x\" and employees = \"y\"\n"  // 2 binding errors
      "segment b on account where (is_customer\n"                           // syntax error
      "  and employees > 3\n"
      "segment c on acount where is_customer\n"                                   // unknown entity
      "segment d on account where name = \"unterminated\n"                        // lexical error
      "segment e on account where in_segment(\"b\") and in_segment(\"zz\")\n"     // unknown segment
      "segment f on person where account.in_segment(\"a\") and seniority = 1\n";  // type
  EXPECT_EQ(errors_of(text),
            "<segments>:1:28: error: unknown attribute 'industy' of entity 'account'; did you mean "
            "'industry'?\n"
            "  segment a on account where industy = \"x\" and employees = \"y\"\n"
            "                             ^\n"
            "<segments>:1:58: error: cannot compare int attribute 'employees' with a string\n"
            "  segment a on account where industy = \"x\" and employees = \"y\"\n"
            "                                                           ^\n"
            "<segments>:4:1: error: expected ')', found 'segment'\n"
            "  segment c on acount where is_customer\n"
            "  ^\n"
            "<segments>:4:14: error: unknown entity 'acount'; did you mean 'account'?\n"
            "  segment c on acount where is_customer\n"
            "               ^\n"
            "<segments>:5:35: error: unterminated string\n"
            "  segment d on account where name = \"unterminated\n"
            "                                    ^\n"
            "<segments>:6:59: error: unknown segment 'zz'\n"
            "  segment e on account where in_segment(\"b\") and in_segment(\"zz\")\n"
            "                                                            ^\n"
            "<segments>:7:67: error: cannot compare string attribute 'seniority' with a number\n"
            "  segment f on person where account.in_segment(\"a\") and seniority = 1\n"
            "                                                                    ^\n");
}

TEST(Errors, RecoveryKeepsLaterDefinitions) {
  // After a syntax error in the first definition, the second one still binds (and its own error
  // is found), and the first one's name still counts as defined.
  auto ds = diagnostics_of(
      "segment a on account where employees > > 3\n"
      "segment b on account where in_segment(\"a\") and industri = \"x\"\n");
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds[0].message, "expected a value after '>', found '>'");
  EXPECT_EQ(ds[0].line, 1u);
  EXPECT_EQ(ds[0].column, 40u);
  EXPECT_EQ(ds[1].message,
            "unknown attribute 'industri' of entity 'account'; did you mean 'industry'?");
  EXPECT_EQ(ds[1].line, 2u);
  // An error right before the next `segment` resumes at it.
  auto ds2 = diagnostics_of("segment a on account where\nsegment b on account where is_customer");
  ASSERT_EQ(ds2.size(), 1u);
  EXPECT_EQ(ds2[0].message, "expected a condition, found 'segment'");
}

TEST(Errors, TabsInTheCaretLine) {
  EXPECT_EQ(errors_of("segment a on account where\n\t\tindusty = \"x\""),
            "<segments>:2:3: error: unknown attribute 'industy' of entity 'account'; did you mean "
            "'industry'?\n"
            "  \t\tindusty = \"x\"\n"
            "  \t\t^\n");
}

TEST(Errors, TooDeepNestingIsAnErrorNotACrash) {
  for (const char* open : {"(", "not ", "opportunities.any("}) {
    std::string text = "segment a on account where ";
    for (int i = 0; i < 100000; ++i) text += open;
    text += "is_customer\nsegment b on account where industy = 1\n";
    auto ds = diagnostics_of(text);
    ASSERT_EQ(ds.size(), 2u) << open;
    EXPECT_EQ(ds[0].message, "expression nested too deeply (more than 200 levels)") << open;
    EXPECT_EQ(ds[1].line, 2u);
  }
}

TEST(Errors, ManyErrorsAreCapped) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += "segment s" + std::to_string(i) + " on account where x\n";
  auto ds = diagnostics_of(text);
  ASSERT_EQ(ds.size(), 101u);
  EXPECT_EQ(ds[99].line, 100u);
  EXPECT_EQ(ds[100].message, "too many errors; stopped after 100");
}

TEST(Parse, TreeKeepsPartsOfBrokenDefinitions) {
  std::vector<diagnostic> ds;
  ast_file f =
      parse_segments("segment a on account where (\nsegment b on person where x", "f.seg", ds);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].file, "f.seg");
  EXPECT_EQ(ds[0].source_line, "segment b on person where x");
  ASSERT_EQ(f.definitions.size(), 2u);
  EXPECT_FALSE(f.definitions[0].ok);
  EXPECT_EQ(f.definitions[0].name.text, "a");
  EXPECT_EQ(f.definitions[0].entity.text, "account");
  EXPECT_TRUE(f.definitions[1].ok);
  ASSERT_TRUE(f.definitions[1].where);
  EXPECT_EQ(f.definitions[1].where->k, ast_expr::kind::bare);
}

}  // namespace
}  // namespace b2bseg
