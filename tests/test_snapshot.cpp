// Snapshots (SPEC 2.5): round trips on random graphs (every row, value and segment result the
// same as from CSV), damaged and foreign files refused with the section named, the command line.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "b2bseg/b2bseg.hpp"
#include "support/graph_dump.hpp"
#include "support/random_graph.hpp"
#include "support/random_segments.hpp"
#include "support/random_sources.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

namespace b2bseg {
namespace {

namespace fs = std::filesystem;
using testing::temp_dir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

/// Every segment's members as the CSV `eval` writes, one string per segment.
std::vector<std::string> results(const graph& g, const bound_file& f, timestamp_us as_of) {
  std::vector<std::string> out;
  const evaluation ev = evaluate(g, f, eval_options{.as_of = as_of, .threads = 0, .segments = {}});
  for (const auto& s : ev.segments)
    out.push_back(s.name + "\n" + members_csv(g, s.entity, s.members));
  return out;
}

/// Random segments over `g`, or an empty file when the schema has no keyed entity.
bound_file random_file(const graph& g, timestamp_us as_of, std::uint64_t seed) {
  test_support::segment_generator gen(g, as_of, seed);
  test_support::segment_options o;
  o.segments = 12;
  return compile_segments(gen.file(o).text, g.schema(), "random.seg");
}

/// The directory of a snapshot: names, offsets and sizes of its sections.
std::vector<detail::snapshot::entry> directory_of(const std::string& bytes) {
  detail::snapshot::header h;
  std::memcpy(&h, bytes.data(), sizeof h);
  std::vector<detail::snapshot::entry> out;
  const char* d = bytes.data() + h.directory_offset;
  std::size_t at = 0;
  auto u64 = [&]() {
    std::uint64_t v;
    std::memcpy(&v, d + at, 8);
    at += 8;
    return v;
  };
  const std::uint64_t n = u64();
  for (std::uint64_t i = 0; i < n; ++i) {
    detail::snapshot::entry e;
    e.offset = u64();
    e.size = u64();
    e.checksum = u64();
    const std::uint64_t len = u64();
    e.name.assign(d + at, len);
    at += len;
    out.push_back(e);
  }
  return out;
}

std::string open_error(const std::string& path) {
  try {
    open_snapshot(path);
  } catch (const data_error& e) {
    return e.what();
  }
  return "(no error)";
}

// --- round trips --------------------------------------------------------------------------------

TEST(Snapshot, RoundTripsRandomGraphsRowForRowAndResultForResult) {
  temp_dir tmp;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    test_support::random_dataset ds = test_support::make_random_dataset(seed);
    const std::string path = (tmp.path() / ("g" + std::to_string(seed) + ".b2bs")).string();
    write_snapshot(ds.graph, path);
    ASSERT_TRUE(is_snapshot(path));
    snapshot_info info;
    graph g = open_snapshot(path, &info);
    EXPECT_EQ(info.file_bytes, fs::file_size(path));
    EXPECT_NO_THROW(g.validate()) << "seed " << seed;
    EXPECT_EQ(testing::dump(g), testing::dump(ds.graph)) << "seed " << seed;
    EXPECT_EQ(to_json(g.schema()), to_json(ds.graph.schema())) << "seed " << seed;
    for (entity_id e = 0; e < g.entity_count(); ++e)
      for (row_id r = 0; r < g.rows(e); ++r)
        ASSERT_EQ(g.find_key(e, g.key(e, r)), g.table(e).has_key ? r : no_row) << "seed " << seed;
    const bound_file f = random_file(ds.graph, ds.as_of, seed);
    EXPECT_EQ(results(g, f, ds.as_of), results(ds.graph, f, ds.as_of)) << "seed " << seed;
    // Writing what was opened gives the same bytes.
    const std::string again = path + ".again";
    write_snapshot(g, again);
    EXPECT_EQ(slurp(again), slurp(path)) << "seed " << seed;
  }
}

TEST(Snapshot, EvalFromSnapshotEqualsEvalFromCsvByteForByte) {
  temp_dir tmp;
  for (std::uint64_t seed = 41; seed <= 70; ++seed) {
    test_support::random_dataset ds = test_support::make_random_dataset(seed);
    const fs::path dir = tmp.path() / ("csv" + std::to_string(seed));
    fs::create_directories(dir);
    ASSERT_TRUE(test_support::write_dataset_files(ds, dir.string()));
    const graph from_csv = load_dataset(dir.string());
    const std::string path = (tmp.path() / ("s" + std::to_string(seed) + ".b2bs")).string();
    write_snapshot(from_csv, path);
    load_report rep;
    const graph mapped = open_data(path, {}, &rep);
    ASSERT_TRUE(mapped.mapping()) << "seed " << seed;
    EXPECT_FALSE(mapped.mapping_changed());
    std::uint64_t rows = 0;
    for (entity_id e = 0; e < from_csv.entity_count(); ++e) rows += from_csv.rows(e);
    EXPECT_EQ(rep.total_rows, rows);
    EXPECT_EQ(testing::dump(mapped), testing::dump(from_csv)) << "seed " << seed;
    const bound_file f = random_file(from_csv, ds.as_of, seed);
    EXPECT_EQ(results(mapped, f, ds.as_of), results(from_csv, f, ds.as_of)) << "seed " << seed;
    // The schema alone, as `check` and the compiler read it.
    EXPECT_EQ(to_json(read_data_schema(path)), to_json(from_csv.schema()));
  }
}

TEST(Snapshot, RoundTripsEntitiesResolvedFromSources) {
  temp_dir tmp;
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    const test_support::source_dataset ds = test_support::make_source_dataset(seed);
    const fs::path dir = tmp.path() / ("src" + std::to_string(seed));
    fs::create_directories(dir);
    ASSERT_TRUE(test_support::write_source_dataset(ds.data, dir.string(), seed));
    const graph loaded = load_dataset(dir.string());
    const std::string path = (tmp.path() / ("src" + std::to_string(seed) + ".b2bs")).string();
    write_snapshot(loaded, path);
    const graph g = open_snapshot(path);
    EXPECT_NO_THROW(g.validate());
    EXPECT_EQ(testing::dump(g), testing::dump(loaded)) << "seed " << seed;
    // Sources, identities, merge policy and links by namespace survive.
    EXPECT_EQ(to_json(g.schema()), to_json(loaded.schema())) << "seed " << seed;
    const bound_file f = random_file(loaded, ds.as_of, seed);
    EXPECT_EQ(results(g, f, ds.as_of), results(loaded, f, ds.as_of)) << "seed " << seed;
  }
}

TEST(Snapshot, SchemaJsonRoundTripsThroughTheParser) {
  for (const char* d : {"datasets/demo", "datasets/demo-sources", "tests/data/mini"}) {
    const schema s = read_schema((fs::path(B2BSEG_SOURCE_DIR) / d / "schema.json").string());
    const std::string text = to_json(s);
    const schema back = parse_schema(text, "round trip");
    EXPECT_EQ(to_json(back), text) << d;
    ASSERT_EQ(back.entities.size(), s.entities.size());
    for (std::size_t e = 0; e < s.entities.size(); ++e) {
      EXPECT_EQ(back.entities[e].file, s.entities[e].file);
      EXPECT_EQ(back.entities[e].sources.size(), s.entities[e].sources.size());
      EXPECT_EQ(back.entities[e].reverses.size(), s.entities[e].reverses.size());
      for (std::size_t a = 0; a < s.entities[e].attributes.size(); ++a)
        EXPECT_EQ(back.entities[e].attributes[a].column, s.entities[e].attributes[a].column);
    }
  }
  // Names that need escaping in JSON.
  schema s = parse_schema(
      R"J({"entities": {"p": {"file": "dir/p \"1\".csv", "key": "id\\x",
          "attributes": {"a": {"type": "string", "column": "tab\there"}}, "links": {}}}})J",
      "t");
  EXPECT_EQ(to_json(parse_schema(to_json(s), "t")), to_json(s));
  EXPECT_EQ(parse_schema(to_json(s), "t").entities[0].attributes[0].column, "tab\there");
}

TEST(Snapshot, AnEmptyGraphAndEmptyTablesRoundTrip) {
  temp_dir tmp;
  const std::string dir = tmp.str();
  tmp.write("schema.json", R"J({"entities": {
      "account": {"key": "id", "attributes": {"name": "string", "tags": "string[]",
                  "n": "int", "x": "float", "ok": "bool", "at": "timestamp"}},
      "person": {"key": "id", "links": {"account": {"column": "account", "to": "account",
                                                    "reverse": "people"}}}}})J");
  tmp.write("account.csv", "id,name,tags,n,x,ok,at\n");
  tmp.write("person.csv", "id,account\n");
  const graph g = load_dataset(dir);
  const std::string path = dir + "/empty.b2bs";
  write_snapshot(g, path);
  const graph back = open_snapshot(path);
  EXPECT_NO_THROW(back.validate());
  EXPECT_EQ(testing::dump(back), testing::dump(g));
  EXPECT_EQ(back.rows(0), 0u);
  EXPECT_EQ(back.find_key(0, "nobody"), no_row);
}

// Narrow storage at the widths random graphs do not reach: 3-byte codes (70,000 distinct
// strings), int and timestamp frames of every width and of scales above 1. Results must agree
// with a row-by-row count over the values written, from CSV and from the snapshot alike.
TEST(Snapshot, NarrowColumnsOfEveryWidthRoundTripAndEvaluate) {
  temp_dir tmp;
  tmp.write("schema.json", R"J({"entities": {"person": {"key": "id", "attributes": {
      "email": "string", "score": "int", "day": "timestamp", "sec": "timestamp",
      "big": "int"}}}})J");
  const std::int64_t n = 70'000;
  const timestamp_us day = 86'400'000'000, t0 = 1'767'225'600'000'000;  // 2026-01-01
  std::string csv = "id,email,score,day,sec,big\n";
  auto email = [](std::int64_t i) {
    std::string d = std::to_string(i * 7919 % 70'001);
    return "e" + std::string(6 - d.size(), '0') + d + "@x.com";
  };
  for (std::int64_t i = 0; i < n; ++i) {
    csv += "P" + std::to_string(i) + "," + email(i) + "," + std::to_string(i % 101) + "," +
           test_support::tstext::iso_utc(t0 + (i % 500) * day) + "," +
           test_support::tstext::iso_utc(t0 + i * 1'000'000) + "," +
           (i % 3 ? std::to_string(i * 1'000'000'007LL - 4'000'000'000'000'000'000LL) : "") + "\n";
  }
  tmp.write("person.csv", csv);
  const graph g = load_dataset(tmp.str());
  const auto& cols = g.table(0).columns;
  EXPECT_EQ(cols[0].codes().width(), 3u);
  EXPECT_EQ(cols[1].ints().width(), 1u);
  EXPECT_EQ(cols[2].ints().width(), 2u);
  EXPECT_EQ(cols[2].ints().scale(), day);
  EXPECT_EQ(cols[3].ints().width(), 4u);
  EXPECT_EQ(cols[3].ints().scale(), 1'000'000);
  EXPECT_EQ(cols[4].ints().width(), 8u);
  const std::string path = tmp.str() + "/narrow.b2bs";
  write_snapshot(g, path);
  const graph back = open_snapshot(path);
  EXPECT_NO_THROW(back.validate());
  EXPECT_EQ(testing::dump(back), testing::dump(g));
  const std::string seg = R"S(
segment a on person where email = "e000123@x.com"
segment b on person where email < "e001000" or email in ("e069999@x.com", "zz")
segment c on person where email like "%99@x.com" and score between 10 and 20
segment d on person where day >= @2026-03-01 and day < @2026-03-08
segment e on person where sec >= @2026-01-01T01:00:00Z and sec <= @2026-01-01T02:00:00.5Z
segment f on person where score != 50 and score not in (1, 2, 300) and big > 0
)S";
  const bound_file f = compile_segments(seg, g.schema(), "narrow.seg");
  const timestamp_us as_of = t0;
  // The same conditions row by row over what was written.
  std::vector<std::size_t> want(6, 0);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::string e = email(i);
    const std::int64_t sc = i % 101, d = i % 500, s = i;
    want[0] += e == "e000123@x.com";
    want[1] += e < "e001000" || e == "e069999@x.com";
    want[2] += e.size() >= 8 && e.compare(e.size() - 8, 8, "99@x.com") == 0 && sc >= 10 && sc <= 20;
    want[3] += d >= 59 && d < 66;
    want[4] += s >= 3600 && s <= 7200;
    want[5] += sc != 50 && sc != 1 && sc != 2 && i % 3 &&
               i * 1'000'000'007LL > 4'000'000'000'000'000'000LL;
  }
  for (const graph* gr : {&g, &back}) {
    const evaluation ev =
        evaluate(*gr, f, eval_options{.as_of = as_of, .threads = 0, .segments = {}});
    for (std::size_t k = 0; k < 6; ++k)
      EXPECT_EQ(ev.segments[k].members.cardinality(), want[k]) << ev.segments[k].name;
  }
  // A frame whose values leave int64 is refused.
  std::string bytes = slurp(path);
  for (const auto& e : directory_of(bytes))
    if (e.name == "person.score frame") {
      const std::int64_t base = INT64_MAX - 10;
      std::memcpy(bytes.data() + e.offset, &base, 8);
    }
  ASSERT_TRUE(detail::snapshot::reseal(bytes));
  spit(path, bytes);
  EXPECT_NE(open_error(path).find("section 'person.score values': a value beyond the int64 range"),
            std::string::npos)
      << open_error(path);
}

// A frame based at INT64_MIN with scale 1 lets every stored value decode: it must open again
// (the reader's limit saturates rather than wrapping to 0).
TEST(Snapshot, AFrameAtTheBottomOfInt64RoundTrips) {
  temp_dir tmp;
  tmp.write("schema.json", R"J({"entities": {"t": {"key": "id", "attributes": {"n": "int"}}}})J");
  tmp.write("t.csv",
            "id,n\na,-9223372036854775808\nb,-9223372036854775807\nc,\nd,-9223372036854775000\n");
  const graph g = load_dataset(tmp.str());
  ASSERT_EQ(g.table(0).columns[0].ints().base(), INT64_MIN);
  ASSERT_EQ(g.table(0).columns[0].ints().scale(), 1);
  ASSERT_EQ(g.table(0).columns[0].ints().width(), 2u);
  const std::string path = tmp.str() + "/min.b2bs";
  write_snapshot(g, path);
  const graph back = open_snapshot(path);
  EXPECT_EQ(testing::dump(back), testing::dump(g));
  EXPECT_EQ(back.table(0).columns[0].ints()[0], INT64_MIN);
  EXPECT_EQ(back.table(0).columns[0].ints()[3], -9223372036854775000);
}

// --- damaged, foreign and crafted files --------------------------------------------------------

class DamagedSnapshot : public ::testing::Test {
 protected:
  void SetUp() override {
    const graph g = load_dataset((fs::path(B2BSEG_SOURCE_DIR) / "tests/data/mini").string());
    good_ = tmp_.str() + "/good.b2bs";
    write_snapshot(g, good_);
    bytes_ = slurp(good_);
    dir_ = directory_of(bytes_);
    bad_ = tmp_.str() + "/bad.b2bs";
  }
  temp_dir tmp_;
  std::string good_, bad_, bytes_;
  std::vector<detail::snapshot::entry> dir_;
};

TEST_F(DamagedSnapshot, AFlippedByteInAnySectionNamesThatSection) {
  ASSERT_GT(dir_.size(), 20u);
  for (const auto& e : dir_) {
    if (e.size == 0) continue;
    std::string b = bytes_;
    b[e.offset + e.size / 2] ^= 0x20;
    spit(bad_, b);
    const std::string msg = open_error(bad_);
    EXPECT_NE(msg.find(bad_), std::string::npos) << msg;
    EXPECT_NE(msg.find("section '" + e.name + "': checksum mismatch"), std::string::npos)
        << e.name << ": " << msg;
  }
}

TEST_F(DamagedSnapshot, TruncatedFilesAreRefusedAtEveryLength) {
  for (std::size_t n : {std::size_t(0), std::size_t(7), std::size_t(63), std::size_t(64),
                        std::size_t(65), bytes_.size() / 3, bytes_.size() / 2, bytes_.size() - 1}) {
    spit(bad_, bytes_.substr(0, n));
    const std::string msg = open_error(bad_);
    EXPECT_NE(msg.find("section 'header'"), std::string::npos) << n << ": " << msg;
    EXPECT_NE(msg.find("truncated"), std::string::npos) << n << ": " << msg;
    EXPECT_THROW(read_snapshot_schema(bad_), data_error);
  }
  spit(bad_, bytes_ + "trailing");
  EXPECT_NE(open_error(bad_).find("bytes after its end"), std::string::npos) << open_error(bad_);
}

TEST_F(DamagedSnapshot, ForeignFilesAndOtherVersionsAreRefused) {
  spit(bad_, "id,name\n1,Ada\n" + std::string(100, 'x'));
  EXPECT_FALSE(is_snapshot(bad_));
  EXPECT_NE(open_error(bad_).find("not a b2bseg snapshot"), std::string::npos);
  std::string b = bytes_;
  const std::uint32_t v = snapshot_format_version + 1;
  std::memcpy(b.data() + 8, &v, 4);
  ASSERT_TRUE(detail::snapshot::reseal(b));
  spit(bad_, b);
  EXPECT_NE(open_error(bad_).find("format version " + std::to_string(v)), std::string::npos)
      << open_error(bad_);
  EXPECT_THROW(read_snapshot_schema(bad_), data_error);
  b = bytes_;
  b[20] ^= 1;  // file size, without resealing: the header checksum catches it
  spit(bad_, b);
  EXPECT_NE(open_error(bad_).find("section 'header': checksum mismatch"), std::string::npos);
  EXPECT_NE(open_error(tmp_.str()).find("not a regular file"), std::string::npos);
  EXPECT_NE(open_error(tmp_.str() + "/missing").find("cannot open"), std::string::npos);
}

TEST_F(DamagedSnapshot, CraftedFilesWithGoodChecksumsFailTheirChecksNotTheProcess) {
  // Each edit keeps the checksums right (resealed): the structural checks must catch it.
  auto find = [&](const std::string& suffix) -> const detail::snapshot::entry& {
    for (const auto& e : dir_)
      if (e.name.size() >= suffix.size() &&
          e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0)
        return e;
    ADD_FAILURE() << "no section ending in " << suffix;
    return dir_[0];
  };
  auto crafted = [&](const detail::snapshot::entry& e, std::size_t at, std::uint32_t value,
                     const std::string& expect) {
    std::string b = bytes_;
    std::memcpy(b.data() + e.offset + at, &value, sizeof value);
    ASSERT_TRUE(detail::snapshot::reseal(b));
    spit(bad_, b);
    const std::string msg = open_error(bad_);
    EXPECT_NE(msg.find("section '" + e.name + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find(expect), std::string::npos) << e.name << ": " << msg;
  };
  crafted(find(".account parents"), 0, 1u << 30, "a parent beyond the target table");
  crafted(find("key offsets"), 4, 1u << 30, "offsets");
  crafted(find(" key slots"), 0, 1u << 30, "a slot beyond the table");
  crafted(find("dictionary offsets"), 4, 1u << 30, "offsets");
  // A code equal to the dictionary's size (one past its last value).
  {
    const auto& offsets = find("person.seniority dictionary offsets");
    const auto& codes = find("person.seniority codes");
    const auto dict = static_cast<std::uint8_t>(offsets.size / 4 - 1);
    std::string b = bytes_;
    b[codes.offset] = static_cast<char>(dict);
    ASSERT_TRUE(detail::snapshot::reseal(b));
    spit(bad_, b);
    EXPECT_NE(open_error(bad_).find("section 'person.seniority codes': a code beyond the "
                                    "dictionary"),
              std::string::npos)
        << open_error(bad_);
  }
  // The schema section: parsed with its own errors.
  {
    const auto& e = find("schema");
    std::string b = bytes_;
    b[e.offset] = '[';
    ASSERT_TRUE(detail::snapshot::reseal(b));
    spit(bad_, b);
    EXPECT_NE(open_error(bad_).find("section 'schema'"), std::string::npos) << open_error(bad_);
  }
  // A directory that names sections out of order.
  {
    std::string b = bytes_;
    const std::size_t at = b.rfind("meta");
    ASSERT_NE(at, std::string::npos);
    b[at] = 'n';
    ASSERT_TRUE(detail::snapshot::reseal(b));
    spit(bad_, b);
    EXPECT_NE(open_error(bad_).find("section 'meta': missing"), std::string::npos)
        << open_error(bad_);
  }
}

TEST(SnapshotBitmaps, OnlyWellFormedRoaringContainersAreAccepted) {
  // Portable format without run containers: cookie 12346, container count, then per container
  // its key and cardinality - 1, then offsets, then the values.
  auto portable = [](std::vector<std::uint16_t> values) {
    std::string b;
    auto put = [&](auto v) { b.append(reinterpret_cast<const char*>(&v), sizeof v); };
    put(std::uint32_t(12346));
    put(std::uint32_t(1));
    put(std::uint16_t(0));
    put(static_cast<std::uint16_t>(values.size() - 1));
    put(std::uint32_t(16));
    for (auto v : values) put(v);
    return b;
  };
  const std::string good = portable({3, 7, 9000});
  EXPECT_TRUE(detail::snapshot::well_formed(Roaring::readSafe(good.data(), good.size())));
  for (const auto& values : std::vector<std::vector<std::uint16_t>>{{9000, 3}, {5, 5}}) {
    const std::string bad = portable(values);
    const Roaring r = Roaring::readSafe(bad.data(), bad.size());
    EXPECT_FALSE(detail::snapshot::well_formed(r)) << values[0];
  }
  Roaring runs;
  runs.addRange(0, 70000);
  runs.add(100000);
  runs.runOptimize();
  EXPECT_TRUE(detail::snapshot::well_formed(runs));
  Roaring dense;
  for (std::uint32_t i = 0; i < 60000; i += 3) dense.add(i);
  EXPECT_TRUE(detail::snapshot::well_formed(dense));
}

TEST_F(DamagedSnapshot, AFileShrinkingWhileMappedIsNoticed) {
  const std::string copy = tmp_.str() + "/copy.b2bs";
  spit(copy, bytes_);
  const graph g = open_snapshot(copy);
  EXPECT_FALSE(g.mapping_changed());
  fs::resize_file(copy, 100);
  EXPECT_TRUE(g.mapping_changed());
  // Replaced by rename (as `b2bseg snapshot` does), the mapped file stays whole.
  spit(copy + ".new", bytes_);
  const graph h = open_snapshot(good_);
  fs::rename(copy + ".new", good_);
  EXPECT_FALSE(h.mapping_changed());
  EXPECT_NO_THROW(h.validate());
}

// --- the command line ----------------------------------------------------------------------------

TEST(SnapshotCli, SnapshotThenEvalGivesTheSameFilesAsTheCsvDataset) {
  temp_dir tmp;
  const std::string demo = (fs::path(B2BSEG_SOURCE_DIR) / "datasets/demo").string();
  const std::string seg = (fs::path(B2BSEG_SOURCE_DIR) / "datasets/demo.seg").string();
  const std::string snap = tmp.str() + "/demo.b2bs";
  auto r = testing::run_b2bseg("snapshot --data " + demo + " --out " + snap);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("wrote " + snap), std::string::npos) << r.out;
  const std::string as_of = " --as-of 2026-11-01T00:00:00Z --quiet";
  r = testing::run_b2bseg("eval --data " + snap + " --segments " + seg + " --out " + tmp.str() +
                          "/a" + as_of);
  ASSERT_EQ(r.status, 0) << r.out;
  r = testing::run_b2bseg("eval --data " + demo + " --segments " + seg + " --out " + tmp.str() +
                          "/b" + as_of);
  ASSERT_EQ(r.status, 0) << r.out;
  std::size_t files = 0;
  for (const auto& f : fs::directory_iterator(tmp.path() / "a")) {
    if (f.path().extension() != ".csv") continue;
    ++files;
    EXPECT_EQ(slurp(f.path().string()), slurp((tmp.path() / "b" / f.path().filename()).string()))
        << f.path();
  }
  EXPECT_GT(files, 10u);
  r = testing::run_b2bseg("check --data " + snap + " --segments " + seg);
  EXPECT_EQ(r.status, 0) << r.out;
  r = testing::run_b2bseg("stats --data " + snap);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("snapshot " + snap), std::string::npos) << r.out;
  r = testing::run_b2bseg("explain --data " + snap + " --segments " + seg +
                          " --segment icp_accounts --as-of 2026-11-01T00:00:00Z");
  EXPECT_EQ(r.status, 0) << r.out;
  // A snapshot of a snapshot is the same file.
  r = testing::run_b2bseg("snapshot --quiet --data " + snap + " --out " + snap + "2");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(slurp(snap + "2"), slurp(snap));
}

TEST(SnapshotCli, BadSnapshotsAndBadOutputsAreClearErrors) {
  temp_dir tmp;
  const std::string demo = (fs::path(B2BSEG_SOURCE_DIR) / "datasets/demo").string();
  const std::string seg = (fs::path(B2BSEG_SOURCE_DIR) / "datasets/demo.seg").string();
  const std::string snap = tmp.str() + "/demo.b2bs";
  ASSERT_EQ(testing::run_b2bseg("snapshot --quiet --data " + demo + " --out " + snap).status, 0);
  std::string b = slurp(snap);
  b.resize(b.size() / 2);
  spit(snap, b);
  auto r = testing::run_b2bseg("eval --data " + snap + " --segments " + seg + " --out " +
                               tmp.str() + "/out");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("error: " + snap), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("section 'header': truncated"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(tmp.path() / "out" / "summary.json"));
  // A file that is no snapshot (a CSV) as --data.
  r = testing::run_b2bseg("eval --data " + demo + "/person.csv --segments " + seg + " --out " +
                          tmp.str() + "/out");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("person.csv: snapshot section 'header': not a b2bseg snapshot"),
            std::string::npos)
      << r.out;
  // A folder as --out, the schema as --out: usage errors; nothing written.
  r = testing::run_b2bseg("snapshot --data " + demo + " --out " + tmp.str());
  EXPECT_EQ(r.status, 2) << r.out;
  r = testing::run_b2bseg("snapshot --data " + demo + " --out " + demo + "/schema.json");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("would overwrite the input"), std::string::npos) << r.out;
  // A missing folder for the snapshot: exit 1 naming it.
  r = testing::run_b2bseg("snapshot --data " + demo + " --out " + tmp.str() + "/no/x.b2bs");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("cannot write the snapshot"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace b2bseg
