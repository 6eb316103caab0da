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

}  // namespace b2bseg
