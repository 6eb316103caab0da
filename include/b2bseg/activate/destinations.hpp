// The destinations file of `activate` (SPEC 6): parsed, checked against the schema and the
// compiled segments, field expressions compiled. Every error is a located diagnostic.
#pragma once

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "b2bseg/common/edit_distance.hpp"
#include "b2bseg/common/error.hpp"
#include "b2bseg/detail/json.hpp"
#include "b2bseg/lang/compile.hpp"
#include "b2bseg/storage/schema.hpp"

namespace b2bseg {

/// The kinds of destination (SPEC 6).
enum class destination_type : std::uint8_t {
  linkedin_company_list,
  linkedin_contact_list,
  marketo_list,
  files
};

/// The SPEC spelling of a destination type.
constexpr std::string_view to_string(destination_type t) noexcept {
  switch (t) {
    case destination_type::linkedin_company_list:
      return "linkedin_company_list";
    case destination_type::linkedin_contact_list:
      return "linkedin_contact_list";
    case destination_type::marketo_list:
      return "marketo_list";
    case destination_type::files:
      return "files";
  }
  return "?";
}

/// LinkedIn's company list template header, in order.
inline const std::vector<std::string_view>& linkedin_company_columns() {
  static const std::vector<std::string_view> c = {"companyname",
                                                  "companywebsite",
                                                  "companyemaildomain",
                                                  "linkedincompanypageurl",
                                                  "stocksymbol",
                                                  "industry",
                                                  "city",
                                                  "state",
                                                  "companycountry",
                                                  "zipcode"};
  return c;
}

/// LinkedIn's contact list template header, in order.
inline const std::vector<std::string_view>& linkedin_contact_columns() {
  static const std::vector<std::string_view> c = {
      "email", "firstname", "lastname", "jobtitle", "employeecompany", "country", "googleaid"};
  return c;
}

/// One output column: its name and its compiled expression.
struct destination_field {
  std::string column;
  std::string text;  ///< the expression as written
  bound_field field;
};

/// One destination of the file, checked.
struct destination {
  std::string name;
  destination_type type = destination_type::files;
  std::vector<std::string> segment_names;
  std::vector<std::uint32_t> segments;       ///< indices into the bound file's segments
  entity_id entity = no_entity;              ///< the entity of every segment
  std::vector<destination_field> fields;     ///< in mapping order
  std::vector<std::string> hash;             ///< linkedin_contact_list: columns written as SHA-256
  bool create_leads = true;                  ///< marketo_list
  std::optional<destination_field> lead_id;  ///< marketo_list with create_leads false
  bool ndjson = false;                       ///< files: format
  std::string compression = "none";          ///< files: none, gzip or zstd
  bool incremental = false;                  ///< mode

  /// The field mapped to output column `column`, or nullptr.
  const destination_field* find(std::string_view column) const noexcept {
    for (const auto& f : fields)
      if (f.column == column) return &f;
    return nullptr;
  }
};

namespace detail {

class destinations_reader {
 public:
  destinations_reader(std::string_view text, const std::string& file, const schema& s,
                      const bound_file& segs)
      : text_(text), file_(file), s_(s), segs_(segs) {}

  std::vector<destination> run() {
    std::vector<destination> out;
    json::value doc;
    try {
      doc = json::parse(text_, file_);
    } catch (const data_error& e) {
      const std::string what = e.what();
      const std::string prefix =
          e.file() + ":" + std::to_string(e.line()) + ":" + std::to_string(e.column()) + ": ";
      error(e.line() ? e.line() : 1, e.column() ? e.column() : 1,
            what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what);
      finish();
    }
    if (!doc.is_object()) {
      error(doc.line, doc.column, "expected an object with \"destinations\": [...]");
      finish();
    }
    for (const auto& m : doc.members)
      if (m.key != "destinations")
        error(m.line, m.column, "unknown member '" + m.key + "'" + hint(m.key, {"destinations"}));
    const json::value* list = doc.find("destinations");
    if (!list || !list->is_array()) {
      error(list ? list->line : doc.line, list ? list->column : doc.column,
            "expected \"destinations\": an array of destinations");
      finish();
    }
    for (const json::value& d : list->items) {
      destination dest;
      if (read(d, dest)) {
        for (const auto& other : out)
          if (other.name == dest.name)
            error(d.line, d.column, "destination '" + dest.name + "' is defined twice");
        out.push_back(std::move(dest));
      }
    }
    if (out.empty() && diags_.empty())
      error(list->line, list->column, "no destinations: the array is empty");
    finish();
    return out;
  }

 private:
  void error(std::size_t line, std::size_t column, std::string message) {
    diagnostic d;
    d.file = file_;
    d.line = line;
    d.column = column;
    d.message = std::move(message);
    d.source_line = std::string(line_text(line));
    diags_.push_back(std::move(d));
  }
  void finish() {
    if (!diags_.empty()) throw compile_error(std::move(diags_));
  }
  std::string_view line_text(std::size_t line) const {
    std::size_t b = 0;
    for (std::size_t l = 1; l < line && b != std::string_view::npos; ++l) {
      b = text_.find('\n', b);
      if (b != std::string_view::npos) ++b;
    }
    if (b == std::string_view::npos || b > text_.size()) return {};
    std::size_t e = text_.find('\n', b);
    std::string_view s = text_.substr(b, e == std::string_view::npos ? e : e - b);
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    return s;
  }
  static std::string hint(std::string_view word, const std::vector<std::string_view>& known) {
    std::string best = closest_name(word, known);
    return best.empty() ? "" : " (did you mean '" + best + "'?)";
  }
  // Byte offset of (line, column) in the text.
  std::size_t offset_of(std::size_t line, std::size_t column) const {
    std::size_t b = 0;
    for (std::size_t l = 1; l < line; ++l) b = text_.find('\n', b) + 1;
    return b + column - 1;
  }

  bool expect_string(const json::value& v, const std::string& what) {
    if (v.is_string()) return true;
    error(v.line, v.column, what + " must be a string, not " + std::string(kind_name(v.type)));
    return false;
  }

  // Compiles the expression of string value `v` over `on`; diagnostics are moved to the
  // destinations file (columns inside the string when it holds no escape).
  bool compile(const json::value& v, entity_id on, destination_field& out) {
    out.text = v.text;
    try {
      out.field = compile_field(v.text, s_, on, file_);
      return true;
    } catch (const compile_error& e) {
      const std::size_t start = offset_of(v.line, v.column) + 1;  // after the opening quote
      const bool plain = text_.substr(start, v.text.size()) == v.text &&
                         start + v.text.size() < text_.size() &&
                         text_[start + v.text.size()] == '"';
      for (const diagnostic& d : e.diagnostics())
        error(v.line, plain && d.line == 1 ? v.column + d.column : v.column,
              "in field '" + out.column + "': " + d.message);
      return false;
    }
  }

  bool read(const json::value& d, destination& dest) {
    const std::size_t errors = diags_.size();
    if (!d.is_object()) {
      error(d.line, d.column, "a destination must be an object");
      return false;
    }
    static const std::vector<std::string_view> members = {
        "name",   "type",        "segments", "fields",       "hash",
        "format", "compression", "mode",     "create_leads", "lead_id"};
    for (const auto& m : d.members)
      if (std::find(members.begin(), members.end(), m.key) == members.end())
        error(m.line, m.column, "unknown member '" + m.key + "'" + hint(m.key, members));
    // name
    const json::value* name = d.find("name");
    if (!name) {
      error(d.line, d.column, "a destination needs a \"name\"");
    } else if (expect_string(*name, "\"name\"")) {
      dest.name = name->text;
      const bool ok = !dest.name.empty() && dest.name.size() <= 100 && dest.name[0] != '.' &&
                      std::all_of(dest.name.begin(), dest.name.end(), [](char c) {
                        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                               (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
                      });
      if (!ok)
        error(name->line, name->column,
              "a destination name names its folder: 1 to 100 of A-Z a-z 0-9 _ - . (not first)");
    }
    // type
    static const std::vector<std::string_view> types = {
        "linkedin_company_list", "linkedin_contact_list", "marketo_list", "files"};
    const json::value* type = d.find("type");
    if (!type) {
      error(d.line, d.column, "a destination needs a \"type\"");
    } else if (expect_string(*type, "\"type\"")) {
      auto it = std::find(types.begin(), types.end(), type->text);
      if (it == types.end())
        error(type->line, type->column,
              "unknown destination type '" + type->text + "'" + hint(type->text, types));
      else
        dest.type = static_cast<destination_type>(it - types.begin());
    }
    // segments: known, all on one entity
    const json::value* segs = d.find("segments");
    if (!segs || !segs->is_array() || segs->items.empty()) {
      error(segs ? segs->line : d.line, segs ? segs->column : d.column,
            "\"segments\" must be a non-empty array of segment names");
    } else {
      std::vector<std::string_view> known;
      for (const auto& s : segs_.segments) known.push_back(s.name);
      for (const json::value& v : segs->items) {
        if (!expect_string(v, "a segment name")) continue;
        const int i = segs_.find(v.text);
        if (i < 0) {
          error(v.line, v.column, "unknown segment '" + v.text + "'" + hint(v.text, known));
          continue;
        }
        if (std::find(dest.segment_names.begin(), dest.segment_names.end(), v.text) !=
            dest.segment_names.end()) {
          error(v.line, v.column, "segment '" + v.text + "' is listed twice");
          continue;
        }
        const entity_id e = segs_.segments[i].entity;
        if (dest.entity != no_entity && e != dest.entity) {
          error(v.line, v.column,
                "segment '" + v.text + "' is on entity '" + s_.entities[e].name +
                    "', the destination's other segments on '" + s_.entities[dest.entity].name +
                    "': all segments of a destination are on one entity");
          continue;
        }
        dest.entity = e;
        dest.segment_names.push_back(v.text);
        dest.segments.push_back(static_cast<std::uint32_t>(i));
      }
    }
    // mode, format, compression, create_leads
    auto choice = [&](const char* key, const std::vector<std::string_view>& allowed,
                      std::string_view fallback) -> std::string {
      const json::value* v = d.find(key);
      if (!v) return std::string(fallback);
      if (!expect_string(*v, std::string("\"") + key + "\"")) return std::string(fallback);
      if (std::find(allowed.begin(), allowed.end(), v->text) == allowed.end()) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        error(v->line, v->column,
              std::string("\"") + key + "\" is one of " + list + ", not '" + v->text + "'" +
                  hint(v->text, allowed));
        return std::string(fallback);
      }
      return v->text;
    };
    dest.incremental = choice("mode", {"full", "incremental"}, "full") == "incremental";
    if (dest.type != destination_type::files) {
      for (const char* k : {"format", "compression"})
        if (const json::value* v = d.find(k))
          error(v->line, v->column,
                std::string("\"") + k + "\" is for \"files\" destinations; " +
                    std::string(to_string(dest.type)) + " files are plain CSV");
    } else {
      dest.ndjson = choice("format", {"csv", "ndjson"}, "csv") == "ndjson";
      dest.compression = choice("compression", {"none", "gzip", "zstd"}, "none");
    }
    if (const json::value* v = d.find("create_leads")) {
      if (dest.type != destination_type::marketo_list)
        error(v->line, v->column, "\"create_leads\" is for marketo_list destinations");
      else if (!v->is_boolean())
        error(v->line, v->column, "\"create_leads\" must be true or false");
      else
        dest.create_leads = v->boolean;
    }
    if (diags_.size() > errors || dest.entity == no_entity) return false;

    // fields
    const json::value* fields = d.find("fields");
    if (fields && !fields->is_object()) {
      error(fields->line, fields->column,
            "\"fields\" must be an object mapping output columns to expressions");
      return false;
    }
    const std::vector<std::string_view>* fixed =
        dest.type == destination_type::linkedin_company_list   ? &linkedin_company_columns()
        : dest.type == destination_type::linkedin_contact_list ? &linkedin_contact_columns()
                                                               : nullptr;
    const std::string& key_column = *s_.entities[dest.entity].key;
    if (fields)
      for (const auto& m : fields->members) {
        if (fixed && std::find(fixed->begin(), fixed->end(), m.key) == fixed->end()) {
          error(m.line, m.column,
                "unknown column '" + m.key + "' of a " + std::string(to_string(dest.type)) +
                    hint(m.key, *fixed));
          continue;
        }
        if (m.key.empty()) {
          error(m.line, m.column, "an output column needs a name");
          continue;
        }
        if (dest.type == destination_type::files && (m.key == key_column || m.key == "status")) {
          error(m.line, m.column,
                "column '" + m.key + "' is written by b2bseg itself (" +
                    (m.key == "status" ? "the change of an incremental file" : "the key") + ")");
          continue;
        }
        if (!expect_string(m.val, "a field expression")) continue;
        destination_field f;
        f.column = m.key;
        if (compile(m.val, dest.entity, f)) dest.fields.push_back(std::move(f));
      }
    auto need = [&](std::initializer_list<std::string_view> cols, const std::string& why) {
      for (auto c : cols)
        if (dest.find(c)) return;
      error(fields ? fields->line : d.line, fields ? fields->column : d.column, why);
    };
    switch (dest.type) {
      case destination_type::linkedin_company_list:
        need({"companyname", "companywebsite", "companyemaildomain", "linkedincompanypageurl"},
             "a linkedin_company_list needs one of companyname, companywebsite, "
             "companyemaildomain or linkedincompanypageurl mapped (LinkedIn matches companies "
             "by them)");
        break;
      case destination_type::linkedin_contact_list:
        if (!dest.find("email") &&
            !(dest.find("firstname") && dest.find("lastname") && dest.find("employeecompany")))
          error(fields ? fields->line : d.line, fields ? fields->column : d.column,
                "a linkedin_contact_list needs email, or firstname, lastname and "
                "employeecompany, mapped (LinkedIn matches people by them)");
        break;
      case destination_type::marketo_list:
        need({"email"}, "a marketo_list needs \"email\" mapped: it is the match key");
        if (dest.fields.size() > 51 || (dest.fields.size() == 51 && !dest.find("email")))
          error(fields->line, fields->column,
                "a marketo_list takes at most 50 fields besides email; this one maps " +
                    std::to_string(dest.fields.size() - (dest.find("email") ? 1 : 0)));
        if (dest.create_leads && (!dest.find("firstName") || !dest.find("lastName")))
          error(fields ? fields->line : d.line, fields ? fields->column : d.column,
                "with \"create_leads\": true (the default) a marketo_list needs firstName and "
                "lastName mapped: Marketo needs them to create a lead");
        break;
      case destination_type::files:
        break;
    }
    // hash
    if (const json::value* h = d.find("hash")) {
      if (dest.type != destination_type::linkedin_contact_list) {
        error(h->line, h->column, "\"hash\" is for linkedin_contact_list destinations");
      } else if (!h->is_array()) {
        error(h->line, h->column, "\"hash\" must be an array of mapped columns");
      } else {
        for (const json::value& v : h->items) {
          if (!expect_string(v, "a hashed column")) continue;
          if (!dest.find(v.text)) {
            std::vector<std::string_view> mapped;
            for (const auto& f : dest.fields) mapped.push_back(f.column);
            error(v.line, v.column,
                  "'" + v.text + "' is not a mapped column" + hint(v.text, mapped));
            continue;
          }
          dest.hash.push_back(v.text);
        }
      }
    }
    // lead_id
    if (const json::value* l = d.find("lead_id")) {
      if (dest.type != destination_type::marketo_list || dest.create_leads) {
        error(l->line, l->column, "\"lead_id\" is for a marketo_list with \"create_leads\": false");
      } else if (expect_string(*l, "\"lead_id\"")) {
        destination_field f;
        f.column = "lead_id";
        if (compile(*l, dest.entity, f)) dest.lead_id = std::move(f);
      }
    }
    return diags_.size() == errors;
  }

  std::string_view text_;
  const std::string& file_;
  const schema& s_;
  const bound_file& segs_;
  std::vector<diagnostic> diags_;
};

}  // namespace detail

/// Parses and checks a destinations file (SPEC 6) against schema `s` and the compiled segments
/// `segs`: every destination's type, segments (known, on one entity), fields (output columns
/// valid for the type, expressions compiled over the segments' entity), and the type's rules
/// (LinkedIn identifying columns, Marketo's email, 50-field limit and create_leads). `file` names
/// the text in diagnostics. Throws compile_error with every diagnostic, each at its line and
/// column in the file. O(size of the text + fields compiled).
inline std::vector<destination> parse_destinations(std::string_view text, const schema& s,
                                                   const bound_file& segs,
                                                   const std::string& file = "<destinations>") {
  return detail::destinations_reader(text, file, s, segs).run();
}

}  // namespace b2bseg
