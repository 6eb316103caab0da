// Entry point of the segment language: compiles a segments file against a schema.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/common/error.hpp"
#include "b2bseg/lang/binder.hpp"
#include "b2bseg/lang/bound.hpp"
#include "b2bseg/lang/lexer.hpp"
#include "b2bseg/lang/parser.hpp"
#include "b2bseg/storage/schema.hpp"

namespace b2bseg {

/// Compiles a whole segments file (SPEC 3) against schema `s`, whose links must have their
/// `target` and whose entities their `reverses` filled (as schema validation does). `file` names
/// the text in diagnostics. Returns the bound file: segments in file order, each tree owned by
/// its segment, and `order`, a topological order in which every segment follows those it
/// references. The result refers to `s` by entity, attribute, link and reverse indices only.
///
/// Throws compile_error holding every diagnostic of the file, in source order (at most 100 and a
/// last one saying more were dropped): lexical and syntax errors (after one, the definition is
/// skipped up to the next `segment` keyword and compiling goes on), unknown names with a
/// "did you mean" hint, type mismatches, duplicate segment names, reference cycles, `on`
/// entities without key. Cost: O(size of the text + names looked up x names of an entity);
/// nesting depth is capped at 200, so recursion is bounded.
inline bound_file compile_segments(std::string_view text, const schema& s,
                                   const std::string& file = "<segments>") {
  detail::lang::source_text src(text, file);
  std::vector<diagnostic> diags;
  const std::vector<token> tokens = detail::lang::lexer(src, diags).run();
  const ast_file tree = detail::lang::parser(src, tokens, diags).run();
  bound_file out = detail::lang::binder(s, src, diags).run(tree);
  if (!diags.empty()) {
    src.finish(diags);
    throw compile_error(std::move(diags));
  }
  return out;
}

/// Compiles a field expression (SPEC 6) over entity `on` of schema `s`: an attribute, a path
/// through to-one links (`account.name`), or a count or aggregate over a relation
/// (`opportunities.where(not is_closed).sum(amount)`, `people.count()`). `file` names the text
/// in diagnostics (line 1 is the text's first line). Throws compile_error with every
/// diagnostic. Cost: O(size of the text).
inline bound_field compile_field(std::string_view text, const schema& s, entity_id on,
                                 const std::string& file = "<field>") {
  detail::lang::source_text src(text, file);
  std::vector<diagnostic> diags;
  const std::vector<token> tokens = detail::lang::lexer(src, diags).run();
  bound_field out;
  if (diags.empty()) {
    std::unique_ptr<ast_expr> tree = detail::lang::parser(src, tokens, diags).field();
    if (tree) detail::lang::binder(s, src, diags).bind_field(*tree, on, out);
  }
  if (!diags.empty()) {
    src.finish(diags);
    throw compile_error(std::move(diags));
  }
  return out;
}

}  // namespace b2bseg
