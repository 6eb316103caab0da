// Word lists and weighted value tables of the synthetic B2B dataset (names, industries, titles).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "b2bseg/gen/random.hpp"

namespace b2bseg::detail::gen {

/// Picks one of the `|`-separated items of `list` uniformly ("" items are allowed).
inline std::string_view pick_piped(std::string_view list, rng& r) noexcept {
  std::size_t n = 1;
  for (char c : list) n += c == '|';
  std::size_t k = r.below(n);
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = list.find('|', start);
    if (k == 0) return list.substr(start, end == std::string_view::npos ? end : end - start);
    --k;
    start = end + 1;
  }
}

// --- geography ----------------------------------------------------------------------------------

inline constexpr std::array<std::string_view, 4> regions = {"North America", "EMEA", "APAC",
                                                            "LATAM"};

struct country_info {
  std::string_view name;
  std::uint32_t weight;
  std::uint8_t region;          ///< index into `regions`
  std::string_view phone_code;  ///< "+44"
  std::string_view tld;         ///< ".co.uk"
  std::string_view cities;      ///< `|`-separated
  std::string_view legal;       ///< `|`-separated legal-form suffixes of company names
};

// Weights: a US-heavy customer base, as most B2B SaaS CRMs have.
inline constexpr std::array<country_info, 32> countries = {{
    {"United States", 430, 0, "+1", ".com",
     "New York|San Francisco|Chicago|Austin|Boston|Seattle|Atlanta|Denver|Los Angeles|Dallas",
     "|, Inc.|, Inc.| Inc.| LLC| Corp.| Corporation"},
    {"Canada", 45, 0, "+1", ".ca", "Toronto|Vancouver|Montréal|Calgary|Ottawa",
     "| Inc.|, Inc.| Ltd."},
    {"United Kingdom", 90, 1, "+44", ".co.uk", "London|Manchester|Edinburgh|Bristol|Leeds",
     "| Ltd| Ltd| Limited| plc"},
    {"Germany", 70, 1, "+49", ".de", "Berlin|München|Hamburg|Frankfurt am Main|Köln",
     "| GmbH| GmbH| AG| GmbH & Co. KG"},
    {"France", 45, 1, "+33", ".fr", "Paris|Lyon|Toulouse|Lille|Nantes", "| SAS| SA| SARL"},
    {"Netherlands", 25, 1, "+31", ".nl", "Amsterdam|Rotterdam|Utrecht|Eindhoven", "| B.V.| N.V."},
    {"Spain", 20, 1, "+34", ".es", "Madrid|Barcelona|Valencia|Sevilla", "| S.L.| S.A."},
    {"Italy", 18, 1, "+39", ".it", "Milano|Roma|Torino|Bologna", "| S.p.A.| S.r.l."},
    {"Sweden", 12, 1, "+46", ".se", "Stockholm|Göteborg|Malmö", "| AB"},
    {"Switzerland", 12, 1, "+41", ".ch", "Zürich|Genève|Basel", "| AG| SA| GmbH"},
    {"Ireland", 10, 1, "+353", ".ie", "Dublin|Cork|Galway", "| Ltd| DAC"},
    {"Israel", 8, 1, "+972", ".co.il", "Tel Aviv|Jerusalem|Haifa", "| Ltd."},
    {"Poland", 8, 1, "+48", ".pl", "Warszawa|Kraków|Wrocław", "| Sp. z o.o.| S.A."},
    {"Belgium", 7, 1, "+32", ".be", "Brussels|Antwerp|Ghent", "| NV| SA| BV"},
    {"Denmark", 6, 1, "+45", ".dk", "København|Aarhus", "| A/S| ApS"},
    {"Norway", 5, 1, "+47", ".no", "Oslo|Bergen", "| AS| ASA"},
    {"Finland", 4, 1, "+358", ".fi", "Helsinki|Espoo", "| Oy| Oyj"},
    {"Austria", 5, 1, "+43", ".at", "Wien|Graz", "| GmbH| AG"},
    {"South Africa", 6, 1, "+27", ".co.za", "Johannesburg|Cape Town", "| (Pty) Ltd"},
    {"United Arab Emirates", 6, 1, "+971", ".ae", "Dubai|Abu Dhabi", "| LLC| FZ-LLC"},
    {"India", 40, 2, "+91", ".in", "Bengaluru|Mumbai|Hyderabad|Pune|New Delhi|Chennai",
     "| Pvt. Ltd.| Private Limited| Ltd."},
    {"Japan", 30, 2, "+81", ".co.jp", "Tokyo|Osaka|Yokohama|Nagoya", "| K.K.| Co., Ltd."},
    {"Australia", 30, 2, "+61", ".com.au", "Sydney|Melbourne|Brisbane|Perth", "| Pty Ltd| Ltd"},
    {"Singapore", 12, 2, "+65", ".sg", "Singapore", "| Pte. Ltd."},
    {"China", 12, 2, "+86", ".cn", "Shanghai|Beijing|Shenzhen", "| Co., Ltd.| Ltd."},
    {"South Korea", 8, 2, "+82", ".co.kr", "Seoul|Busan", "| Co., Ltd.| Inc."},
    {"New Zealand", 5, 2, "+64", ".co.nz", "Auckland|Wellington", "| Ltd| Limited"},
    {"Brazil", 22, 3, "+55", ".com.br", "São Paulo|Rio de Janeiro|Belo Horizonte|Curitiba",
     "| Ltda.| S.A."},
    {"Mexico", 15, 3, "+52", ".com.mx", "Ciudad de México|Guadalajara|Monterrey",
     "| S.A. de C.V.| S. de R.L."},
    {"Argentina", 6, 3, "+54", ".com.ar", "Buenos Aires|Córdoba", "| S.A.| S.R.L."},
    {"Colombia", 5, 3, "+57", ".com.co", "Bogotá|Medellín", "| S.A.S.| S.A."},
    {"Chile", 4, 3, "+56", ".cl", "Santiago|Valparaíso", "| SpA| S.A."},
}};

/// Index of a country drawn by weight.
inline std::size_t pick_country(rng& r) noexcept {
  static constexpr std::uint32_t total = [] {
    std::uint32_t t = 0;
    for (const auto& c : countries) t += c.weight;
    return t;
  }();
  std::uint64_t t = r.below(total);
  for (std::size_t i = 0; i < countries.size(); ++i) {
    if (t < countries[i].weight) return i;
    t -= countries[i].weight;
  }
  return 0;
}

// --- industries ---------------------------------------------------------------------------------

struct industry_info {
  std::string_view name;
  std::uint32_t weight;
  std::uint32_t revenue_per_employee;  ///< USD, median
  std::string_view tags;               ///< `|`-separated account tags typical of the industry
};

inline constexpr std::array<industry_info, 24> industries = {{
    {"Software", 170, 250000, "saas|cloud|ai|devtools"},
    {"Financial Services", 90, 400000, "fintech|compliance|cloud"},
    {"Manufacturing", 110, 300000, "iot|supply-chain|sustainability"},
    {"Healthcare", 80, 150000, "healthtech|compliance|hipaa"},
    {"Professional Services", 70, 160000, "consulting|partner-sourced"},
    {"Retail", 60, 220000, "ecommerce|omnichannel"},
    {"Telecommunications", 25, 500000, "5g|cloud"},
    {"Media & Entertainment", 30, 260000, "streaming|adtech"},
    {"Education", 35, 80000, "edtech|public-sector"},
    {"Transportation & Logistics", 35, 250000, "supply-chain|iot"},
    {"Insurance", 30, 500000, "insurtech|compliance"},
    {"Construction", 30, 250000, "sustainability"},
    {"Real Estate", 25, 400000, "proptech"},
    {"Energy", 20, 900000, "sustainability|iot"},
    {"Pharmaceuticals", 20, 500000, "life-sciences|compliance"},
    {"Biotechnology", 15, 350000, "life-sciences|ai"},
    {"Consumer Goods", 30, 350000, "ecommerce|sustainability"},
    {"Automotive", 20, 400000, "iot|ev"},
    {"Hospitality", 20, 70000, "travel"},
    {"Government", 15, 120000, "public-sector|compliance"},
    {"Nonprofit", 15, 70000, "public-sector"},
    {"Semiconductors", 8, 600000, "ai|hardware"},
    {"Aerospace & Defense", 10, 350000, "public-sector|hardware"},
    {"Agriculture", 8, 300000, "sustainability|iot"},
}};

inline std::size_t pick_industry(rng& r) noexcept {
  static constexpr std::uint32_t total = [] {
    std::uint32_t t = 0;
    for (const auto& c : industries) t += c.weight;
    return t;
  }();
  std::uint64_t t = r.below(total);
  for (std::size_t i = 0; i < industries.size(); ++i) {
    if (t < industries[i].weight) return i;
    t -= industries[i].weight;
  }
  return 0;
}

/// Sales- and marketing-owned account tags, independent of the industry.
inline constexpr std::array<std::string_view, 12> account_tags = {
    "abm",       "priority", "target-2027",         "expansion",
    "at-risk",   "upsell",   "competitor-displace", "event-lead",
    "reference", "beta",     "renewal-2027",        "exec-sponsor"};

// --- accounts -----------------------------------------------------------------------------------

/// Account types, in the order of `account_type` values.
inline constexpr std::array<std::string_view, 7> account_types = {
    "Prospect", "Customer", "Partner", "Reseller", "Former Customer", "Competitor", "Other"};
enum account_type : std::uint8_t {
  at_prospect,
  at_customer,
  at_partner,
  at_reseller,
  at_former_customer,
  at_competitor,
  at_other
};

/// Tiers by employee count: Strategic >= 10000, Enterprise >= 1000, Mid-Market >= 100, else SMB.
inline constexpr std::array<std::string_view, 4> tiers = {"SMB", "Mid-Market", "Enterprise",
                                                          "Strategic"};

// Company names: prefix + stem + noun, chosen by a bijection of the account number, so names and
// domains are distinct up to prefixes*stems*nouns accounts (then a number is appended).
inline constexpr std::array<std::string_view, 120> name_prefixes = {
    "Blue",     "North",   "Silver",   "Red",      "Green",     "Bright",   "Clear",   "Iron",
    "Summit",   "Crest",   "Pine",     "Oak",      "Cedar",     "Maple",    "River",   "Lake",
    "Harbor",   "Bay",     "Sun",      "Star",     "Nova",      "Astra",    "Terra",   "Aqua",
    "Vertex",   "Apex",    "Prime",    "Quantum",  "Fusion",    "Vector",   "Nimbus",  "Cloud",
    "Sky",      "Eagle",   "Falcon",   "Hawk",     "Wolf",      "Fox",      "Bear",    "Lion",
    "Orbit",    "Pulse",   "Flux",     "Zen",      "Arc",       "Beacon",   "Cobalt",  "Copper",
    "Crimson",  "Delta",   "Echo",     "Ember",    "Frost",     "Golden",   "Granite", "Horizon",
    "Indigo",   "Jade",    "Keystone", "Lumen",    "Magnet",    "Meridian", "Monarch", "Noble",
    "Onyx",     "Opal",    "Pacific",  "Atlantic", "Polar",     "Quartz",   "Radiant", "Rapid",
    "Sapphire", "Scarlet", "Sierra",   "Solar",    "Sterling",  "Swift",    "Titan",   "True",
    "Union",    "Unity",   "Vantage",  "Velvet",   "Violet",    "Vista",    "West",    "East",
    "South",    "Willow",  "Zephyr",   "Atlas",    "Alpine",    "Amber",    "Aspen",   "Birch",
    "Canyon",   "Coral",   "Cypress",  "Dune",     "Evergreen", "Fern",     "Glacier", "Hazel",
    "Ivory",    "Juniper", "Kestrel",  "Lark",     "Mesa",      "Nordic",   "Oasis",   "Prairie",
    "Raven",    "Sage",    "Tundra",   "Urban",    "Valley",    "Wren",     "Yarrow",  "Zenith"};
inline constexpr std::array<std::string_view, 64> name_stems = {
    "point", "wave",   "field", "gate", "line",  "bridge", "path",  "stone",  "wind", "ridge",
    "view",  "light",  "forge", "mark", "shift", "logic",  "scale", "stream", "leaf", "spark",
    "grid",  "craft",  "base",  "ware", "hub",   "loop",   "mind",  "net",    "port", "soft",
    "tech",  "trail",  "tree",  "vale", "way",   "well",   "wood",  "yard",   "bit",  "cast",
    "dock",  "edge",   "flow",  "glen", "haven", "lane",   "mont",  "nest",   "rock", "sand",
    "side",  "sphere", "tide",  "top",  "tower", "vault",  "verse", "works",  "labs", "data",
    "cloud", "mesh",   "bay",   "quest"};
inline constexpr std::array<std::string_view, 48> name_nouns = {
    "Systems",     "Solutions",   "Technologies",  "Group",      "Labs",      "Partners",
    "Networks",    "Dynamics",    "Industries",    "Holdings",   "Ventures",  "Enterprises",
    "Analytics",   "Software",    "Digital",       "Consulting", "Global",    "International",
    "Logistics",   "Health",      "Capital",       "Media",      "Energy",    "Robotics",
    "Security",    "Data",        "Interactive",   "Services",   "Materials", "Financial",
    "Foods",       "Motors",      "Telecom",       "Brands",     "Works",     "Studios",
    "Collective",  "Innovations", "Manufacturing", "Research",   "Supply",    "Designs",
    "Engineering", "Pharma",      "Insights",      "Cloud",      "Platforms", "Outfitters"};

/// Email address conventions of companies.
inline constexpr std::array<std::string_view, 4> email_formats = {"first.last", "first_last",
                                                                  "last.first", "first-last"};
inline constexpr std::array<std::string_view, 6> free_mail_domains = {
    "gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "hotmail.com"};

// --- people -------------------------------------------------------------------------------------

inline constexpr auto first_names = std::to_array<std::string_view>(
    {"James",     "Mary",     "John",      "Patricia",  "Robert",      "Jennifer",  "Michael",
     "Linda",     "David",    "Elizabeth", "William",   "Barbara",     "Richard",   "Susan",
     "Joseph",    "Jessica",  "Thomas",    "Sarah",     "Christopher", "Karen",     "Daniel",
     "Lisa",      "Matthew",  "Nancy",     "Anthony",   "Sandra",      "Mark",      "Ashley",
     "Steven",    "Emily",    "Andrew",    "Michelle",  "Joshua",      "Amanda",    "Kevin",
     "Melissa",   "Brian",    "Stephanie", "Ryan",      "Rebecca",     "Jason",     "Laura",
     "Eric",      "Rachel",   "Jacob",     "Megan",     "Nicholas",    "Lauren",    "Jonathan",
     "Olivia",    "Benjamin", "Emma",      "Samuel",    "Sophia",      "Alexander", "Chloe",
     "Ethan",     "Grace",    "Noah",      "Hannah",    "Liam",        "Zoë",       "Lucas",
     "Amelia",    "Oliver",   "Isla",      "Jack",      "Charlotte",   "Harry",     "Freya",
     "George",    "Poppy",    "Oscar",     "Mia",       "Leo",         "Ella",      "Max",
     "Lena",      "Felix",    "Anna",      "Lukas",     "Sophie",      "Jonas",     "Marie",
     "Jürgen",    "Katrin",   "Stefan",    "Sabine",    "Matthias",    "Julia",     "François",
     "Camille",   "Étienne",  "Léa",       "Mathieu",   "Manon",       "Antoine",   "Inès",
     "José",      "María",    "Javier",    "Lucía",     "Carlos",      "Sofía",     "Alejandro",
     "Valentina", "Diego",    "Camila",    "João",      "Ana",         "Pedro",     "Beatriz",
     "Luca",      "Giulia",   "Marco",     "Francesca", "Søren",       "Ingrid",    "Lars",
     "Astrid",    "Erik",     "Sigrid",    "Łukasz",    "Agnieszka",   "Piotr",     "Katarzyna",
     "Priya",     "Rahul",    "Ananya",    "Arjun",     "Deepika",     "Vikram",    "Sneha",
     "Rohan",     "Aditi",    "Karthik",   "Wei",       "Mei",         "Jun",       "Hiroshi",
     "Yuki",      "Takeshi",  "Sakura",    "Kenji",     "Min-jun",     "Ji-woo",    "Minh",
     "Linh",      "Ahmed",    "Fatima",    "Omar",      "Aisha",       "Yusuf",     "Layla",
     "Kwame",     "Ama",      "Chinedu",   "Ngozi",     "Thabo",       "Zanele",    "Siobhán",
     "Seán",      "Niamh",    "Ciarán",    "Dmitri",    "Olga",        "Ivan",      "Natalia",
     "Tomás",     "Rafael",   "Gabriela",  "Noor"});
inline constexpr auto last_names = std::to_array<std::string_view>(
    {"Smith",     "Johnson",   "Williams",     "Brown",     "Jones",      "Garcia",
     "Miller",    "Davis",     "Rodriguez",    "Martinez",  "Hernandez",  "Lopez",
     "Gonzalez",  "Wilson",    "Anderson",     "Thomas",    "Taylor",     "Moore",
     "Jackson",   "Martin",    "Lee",          "Perez",     "Thompson",   "White",
     "Harris",    "Sanchez",   "Clark",        "Ramirez",   "Lewis",      "Robinson",
     "Walker",    "Young",     "Allen",        "King",      "Wright",     "Scott",
     "Torres",    "Nguyen",    "Hill",         "Flores",    "Green",      "Adams",
     "Nelson",    "Baker",     "Hall",         "Rivera",    "Campbell",   "Mitchell",
     "Carter",    "Roberts",   "O'Brien",      "O'Connor",  "McCarthy",   "Murphy",
     "Kelly",     "Byrne",     "Walsh",        "Müller",    "Schmidt",    "Schneider",
     "Fischer",   "Weber",     "Meyer",        "Wagner",    "Becker",     "Schulz",
     "Hoffmann",  "Koch",      "Richter",      "Dubois",    "Lefèvre",    "Moreau",
     "Laurent",   "Girard",    "Bernard",      "Rousseau",  "Fontaine",   "Fernández",
     "Rossi",     "Russo",     "Ferrari",      "Esposito",  "Bianchi",    "Romano",
     "Colombo",   "Ricci",     "Silva",        "Santos",    "Oliveira",   "Souza",
     "Pereira",   "Costa",     "Almeida",      "Carvalho",  "Jensen",     "Nielsen",
     "Hansen",    "Andersson", "Johansson",    "Karlsson",  "Nilsson",    "Larsen",
     "Eriksson",  "Lindqvist", "Kowalski",     "Nowak",     "Wiśniewski", "Wójcik",
     "Novák",     "Svoboda",   "van den Berg", "de Vries",  "Jansen",     "Bakker",
     "Visser",    "de Jong",   "Peeters",      "Janssens",  "Patel",      "Sharma",
     "Singh",     "Kumar",     "Gupta",        "Reddy",     "Iyer",       "Menon",
     "Rao",       "Desai",     "Chen",         "Wang",      "Zhang",      "Liu",
     "Yang",      "Huang",     "Zhao",         "Wu",        "Zhou",       "Sun",
     "Tanaka",    "Suzuki",    "Takahashi",    "Watanabe",  "Sato",       "Yamamoto",
     "Kobayashi", "Nakamura",  "Kim",          "Park",      "Choi",       "Jung",
     "Kang",      "Tran",      "Pham",         "Hoang",     "Cohen",      "Levi",
     "Friedman",  "Goldberg",  "Shapiro",      "Khan",      "Ali",        "Hussain",
     "Rahman",    "Haddad",    "Mansour",      "Okafor",    "Adeyemi",    "Mensah",
     "Nkosi",     "Dlamini",   "Ivanov",       "Petrov",    "Smirnov",    "Volkov",
     "Popescu",   "Horvat",    "Papadopoulos", "Yilmaz",    "Kaya",       "Demir",
     "Öztürk",    "Schwartz",  "Fitzgerald",   "Gallagher", "Sullivan",   "MacDonald",
     "Stewart",   "Fraser",    "Morrison",     "Hughes",    "Evans",      "Edwards",
     "Price",     "Bennett",   "Wood",         "Barnes",    "Ross",       "Henderson",
     "Coleman",   "Jenkins",   "Perry",        "Powell",    "Foster"});

/// Lower-case ASCII email slug of a (possibly accented, UTF-8) name: "Müller" -> "muller",
/// "O'Brien" -> "obrien", "van den Berg" -> "vandenberg".
inline std::string email_slug(std::string_view name) {
  static constexpr std::pair<std::string_view, char> folds[] = {
      {"á", 'a'}, {"à", 'a'}, {"â", 'a'}, {"ä", 'a'}, {"ã", 'a'}, {"å", 'a'}, {"é", 'e'},
      {"è", 'e'}, {"ê", 'e'}, {"ë", 'e'}, {"É", 'e'}, {"í", 'i'}, {"ì", 'i'}, {"î", 'i'},
      {"ï", 'i'}, {"ó", 'o'}, {"ò", 'o'}, {"ô", 'o'}, {"ö", 'o'}, {"õ", 'o'}, {"ø", 'o'},
      {"Ö", 'o'}, {"ú", 'u'}, {"ù", 'u'}, {"û", 'u'}, {"ü", 'u'}, {"ñ", 'n'}, {"ń", 'n'},
      {"ç", 'c'}, {"ć", 'c'}, {"ł", 'l'}, {"Ł", 'l'}, {"ś", 's'}, {"ş", 's'}, {"ż", 'z'},
      {"ź", 'z'}, {"ë", 'e'}};
  std::string out;
  for (std::size_t i = 0; i < name.size();) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x80) {
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        out.push_back(static_cast<char>(c));
      else if (c >= 'A' && c <= 'Z')
        out.push_back(static_cast<char>(c - 'A' + 'a'));
      ++i;
      continue;
    }
    bool folded = false;
    for (const auto& [from, to] : folds) {
      if (name.substr(i, from.size()) == from) {
        out.push_back(to);
        i += from.size();
        folded = true;
        break;
      }
    }
    if (!folded) ++i;  // unknown non-ASCII byte: dropped
  }
  return out;
}

/// A name table with duplicate email slugs removed, and the slugs alongside.
struct name_table {
  std::vector<std::string_view> names;
  std::vector<std::string> slugs;
};
template <std::size_t N>
name_table make_name_table(const std::array<std::string_view, N>& src) {
  name_table t;
  std::unordered_set<std::string> seen;
  for (auto n : src) {
    std::string s = email_slug(n);
    if (s.empty() || !seen.insert(s).second) continue;
    t.names.push_back(n);
    t.slugs.push_back(std::move(s));
  }
  return t;
}
inline const name_table& first_name_table() {
  static const name_table t = make_name_table(first_names);
  return t;
}
inline const name_table& last_name_table() {
  static const name_table t = make_name_table(last_names);
  return t;
}

inline constexpr std::array<std::string_view, 5> seniorities = {
    "C-Level", "VP", "Director", "Manager", "Individual Contributor"};
enum seniority_level : std::uint8_t { sen_c_level, sen_vp, sen_director, sen_manager, sen_ic };

inline constexpr std::array<std::string_view, 12> departments = {"Executive",
                                                                 "Engineering",
                                                                 "IT",
                                                                 "Marketing",
                                                                 "Sales",
                                                                 "Finance",
                                                                 "Operations",
                                                                 "Human Resources",
                                                                 "Legal",
                                                                 "Product",
                                                                 "Customer Success",
                                                                 "Procurement"};
/// Relative size of departments among contacts below C-level (Executive excluded).
inline constexpr std::array<std::uint32_t, 12> department_weights = {0, 16, 14, 14, 14, 8,
                                                                     9, 5,  3,  7,  6,  4};

/// Job titles by department and seniority, `|`-separated variants.
inline constexpr std::array<std::array<std::string_view, 5>, 12> job_titles = {{
    {"CEO|Chief Executive Officer|President|Founder & CEO|Managing Director",
     "VP, Strategy|SVP Corporate Development", "Chief of Staff|Director of Strategy",
     "Strategy Manager|Office Manager", "Executive Assistant|Business Analyst"},
    {"CTO|Chief Technology Officer", "VP of Engineering|VP, Engineering|SVP Engineering",
     "Director of Engineering|Engineering Director",
     "Engineering Manager|Software Development Manager",
     "Software Engineer|Senior Software Engineer|Staff Engineer|DevOps Engineer"},
    {"CIO|Chief Information Officer|CISO", "VP of IT|VP, Information Technology",
     "IT Director|Director of IT Infrastructure", "IT Manager|Systems Manager",
     "Systems Administrator|IT Specialist|Network Engineer|Security Analyst"},
    {"CMO|Chief Marketing Officer", "VP of Marketing|VP, Demand Generation",
     "Director of Marketing|Marketing Director|Director, Product Marketing",
     "Marketing Manager|Demand Generation Manager|Marketing Operations Manager",
     "Marketing Specialist|Content Marketer|Marketing Coordinator"},
    {"CRO|Chief Revenue Officer|Chief Sales Officer", "VP of Sales|VP, Sales|SVP Sales",
     "Sales Director|Director of Sales, EMEA|Director of Sales",
     "Sales Manager|Account Manager|Regional Sales Manager",
     "Account Executive|Sales Development Representative|Business Development Representative"},
    {"CFO|Chief Financial Officer", "VP of Finance|VP, Finance", "Finance Director|Controller",
     "Finance Manager|Accounting Manager", "Financial Analyst|Accountant"},
    {"COO|Chief Operating Officer", "VP of Operations", "Director of Operations",
     "Operations Manager|Project Manager", "Operations Analyst|Operations Specialist"},
    {"CHRO|Chief People Officer", "VP of People|VP, Human Resources",
     "HR Director|Director of Talent Acquisition", "HR Manager|Recruiting Manager",
     "HR Generalist|Recruiter"},
    {"General Counsel|Chief Legal Officer", "VP, Legal|Deputy General Counsel",
     "Director of Legal Affairs", "Legal Operations Manager|Compliance Manager",
     "Corporate Counsel|Paralegal"},
    {"CPO|Chief Product Officer", "VP of Product|VP, Product Management",
     "Director of Product Management|Director, Product", "Product Manager|Senior Product Manager",
     "Product Analyst|UX Designer|Product Owner"},
    {"Chief Customer Officer", "VP of Customer Success", "Director of Customer Success",
     "Customer Success Manager|Support Manager",
     "Customer Success Associate|Support Engineer|Implementation Consultant"},
    {"Chief Procurement Officer", "VP of Procurement",
     "Director of Procurement|Purchasing Director", "Procurement Manager|Purchasing Manager",
     "Buyer|Procurement Specialist"},
}};

inline constexpr auto lead_sources = make_weighted({{"Web", 20},
                                                    {"Organic Search", 14},
                                                    {"Paid Search", 10},
                                                    {"LinkedIn", 8},
                                                    {"Webinar", 8},
                                                    {"Trade Show", 7},
                                                    {"Referral", 6},
                                                    {"Partner", 5},
                                                    {"Content Syndication", 7},
                                                    {"Outbound", 8},
                                                    {"Purchased List", 4},
                                                    {"Event", 3}});

// --- opportunities ------------------------------------------------------------------------------

struct stage_info {
  std::string_view name;
  std::uint32_t weight;       ///< among open stages
  std::uint8_t probability;   ///< default win probability, percent
  std::string_view forecast;  ///< forecast category
};
/// Open stages first (weighted like a real funnel), then Closed Won and Closed Lost.
inline constexpr std::array<stage_info, 10> stages = {{
    {"Prospecting", 24, 10, "Pipeline"},
    {"Qualification", 20, 10, "Pipeline"},
    {"Needs Analysis", 15, 20, "Pipeline"},
    {"Value Proposition", 11, 50, "Best Case"},
    {"Decision Makers", 8, 60, "Best Case"},
    {"Perception Analysis", 6, 70, "Best Case"},
    {"Proposal", 9, 75, "Commit"},
    {"Negotiation", 7, 90, "Commit"},
    {"Closed Won", 0, 100, "Closed"},
    {"Closed Lost", 0, 0, "Omitted"},
}};
inline constexpr std::size_t stage_closed_won = 8;
inline constexpr std::size_t stage_closed_lost = 9;

inline constexpr std::array<std::string_view, 4> opportunity_types = {"New Business", "Expansion",
                                                                      "Renewal", "Cross-sell"};
inline constexpr std::array<std::string_view, 10> products = {"Platform",
                                                              "Analytics Suite",
                                                              "Data Cloud",
                                                              "Security Add-on",
                                                              "Premium Support",
                                                              "Enterprise License",
                                                              "Professional Services",
                                                              "API Access",
                                                              "Seats",
                                                              "Marketing Hub"};
inline constexpr std::array<std::string_view, 12> code_names = {
    "Falcon",   "Everest", "Lighthouse", "Phoenix",  "Atlas",    "Northstar",
    "Keystone", "Orion",   "Redwood",    "Bluebird", "Catalyst", "Horizon"};

/// Roles on an opportunity by seniority (C-Level, VP, Director, Manager, IC), `|`-separated with
/// repeats as weights.
inline constexpr std::array<std::string_view, 5> opportunity_roles = {
    "Economic Buyer|Economic Buyer|Decision Maker|Decision Maker|Executive Sponsor",
    "Economic Buyer|Decision Maker|Decision Maker|Executive Sponsor|Influencer",
    "Decision Maker|Decision Maker|Influencer|Influencer|Technical Evaluator|Economic Buyer",
    "Influencer|Influencer|Technical Evaluator|Technical Evaluator|Evaluator|Business User",
    "Technical Evaluator|Technical Evaluator|Business User|Business User|Evaluator|Influencer"};
/// Roles of a person at their own account (account_person), by seniority.
inline constexpr std::array<std::string_view, 5> account_roles = {
    "Decision Maker|Executive Sponsor|Economic Buyer", "Decision Maker|Economic Buyer|Influencer",
    "Decision Maker|Influencer|Technical Buyer", "Influencer|Technical Buyer|Business User",
    "Business User|Business User|Technical Buyer|Evaluator"};

// --- campaigns and lists ------------------------------------------------------------------------

struct campaign_type_info {
  std::string_view name;
  std::string_view channel;
  std::uint32_t weight;
  double median_budget;   ///< USD
  std::int64_t min_days;  ///< duration
  std::int64_t max_days;
  double popularity;  ///< relative audience size
  std::uint8_t kind;  ///< campaign_kind
};
enum campaign_kind : std::uint8_t { ck_email, ck_webinar, ck_event, ck_paid, ck_content, ck_other };
inline constexpr std::array<campaign_type_info, 11> campaign_types = {{
    {"Email", "Email", 28, 1500, 1, 7, 6.0, ck_email},
    {"Nurture", "Email", 9, 3000, 60, 240, 5.0, ck_email},
    {"Webinar", "Webinar", 16, 6000, 1, 1, 1.5, ck_webinar},
    {"Trade Show", "Events", 6, 60000, 2, 4, 0.8, ck_event},
    {"Conference", "Events", 4, 30000, 1, 3, 0.6, ck_event},
    {"Field Event", "Events", 5, 12000, 1, 1, 0.3, ck_event},
    {"Paid Social", "Social", 8, 20000, 14, 90, 1.2, ck_paid},
    {"Paid Search", "Search", 6, 25000, 30, 120, 1.0, ck_paid},
    {"Content Syndication", "Content", 6, 15000, 30, 90, 0.8, ck_content},
    {"Direct Mail", "Direct Mail", 3, 8000, 7, 21, 0.3, ck_other},
    {"Partner", "Partner", 4, 10000, 30, 180, 0.4, ck_other},
}};
inline constexpr std::array<std::string_view, 20> campaign_themes = {
    "AI Readiness",     "Cloud Migration",       "Data Platform",    "Zero Trust, Explained",
    "Customer 360",     "Product Launch",        "Spring Release",   "Analytics Roadshow",
    "CFO Summit",       "Pipeline Acceleration", "Year in Review",   "Modern Data Stack",
    "Security Summit",  "Partner Spotlight",     "Customer Stories", "Automation Best Practices",
    "Benchmark Report", "Executive Briefing",    "Holiday Promo",    "Developer Day"};

inline constexpr std::array<std::string_view, 24> list_names = {"Newsletter Subscribers",
                                                                "Product Updates - Opted In",
                                                                "Webinar Invitees",
                                                                "ABM Tier 1 Contacts",
                                                                "Customer Advocates",
                                                                "Beta Program",
                                                                "Churn Risk Contacts",
                                                                "Executive Dinner Invitees, NYC",
                                                                "Event Follow-Up",
                                                                "Purchased List - Q1",
                                                                "Trade Show Badge Scans",
                                                                "Partner Referrals",
                                                                "Developer Community",
                                                                "CFO Roundtable",
                                                                "Security Buyers",
                                                                "EMEA Prospects",
                                                                "APAC Prospects",
                                                                "Renewal Reminders",
                                                                "Win-Back Former Customers",
                                                                "Free Trial Users",
                                                                "Gated Content Downloads",
                                                                "Sales Outreach Sequence",
                                                                "Do Not Call",
                                                                "Analyst Report Readers"};

// --- web and events -----------------------------------------------------------------------------

inline constexpr std::string_view site = "https://www.vendor.example";
inline constexpr auto site_pages = make_weighted({{"/", 20},
                                                  {"/pricing", 8},
                                                  {"/product", 8},
                                                  {"/product/integrations", 4},
                                                  {"/product/security", 3},
                                                  {"/solutions/marketing", 4},
                                                  {"/solutions/sales", 3},
                                                  {"/customers", 4},
                                                  {"/blog/", 22},
                                                  {"/docs/", 8},
                                                  {"/resources/", 5},
                                                  {"/careers", 2},
                                                  {"/about", 2},
                                                  {"/contact", 2},
                                                  {"/demo", 2},
                                                  {"/partners", 1}});
inline constexpr std::array<std::string_view, 16> content_slugs = {"state-of-b2b-marketing-2026",
                                                                   "abm-playbook",
                                                                   "intent-data-101",
                                                                   "lead-scoring-guide",
                                                                   "pipeline-forecasting",
                                                                   "data-clean-rooms",
                                                                   "customer-data-platforms",
                                                                   "zero-party-data",
                                                                   "sales-marketing-alignment",
                                                                   "roi-calculator",
                                                                   "security-whitepaper",
                                                                   "getting-started",
                                                                   "api-reference",
                                                                   "gdpr-and-consent",
                                                                   "buyer-journey-mapping",
                                                                   "webinar-recap"};

/// True when no entry of a table is empty (guards the hand-counted array sizes above).
template <typename T, std::size_t N, typename F>
constexpr bool all_named(const std::array<T, N>& a, F name) {
  for (const auto& x : a)
    if (name(x).empty()) return false;
  return true;
}
inline constexpr auto self_name = [](std::string_view s) { return s; };
static_assert(all_named(countries, [](const country_info& c) { return c.name; }));
static_assert(all_named(industries, [](const industry_info& c) { return c.name; }));
static_assert(all_named(account_tags, self_name));
static_assert(all_named(name_prefixes, self_name));
static_assert(all_named(name_stems, self_name));
static_assert(all_named(name_nouns, self_name));
static_assert(all_named(first_names, self_name));
static_assert(all_named(last_names, self_name));
static_assert(all_named(campaign_themes, self_name));
static_assert(all_named(list_names, self_name));
static_assert(all_named(content_slugs, self_name));
static_assert(all_named(products, self_name));
static_assert(all_named(code_names, self_name));
static_assert(all_named(campaign_types, [](const campaign_type_info& c) { return c.name; }));

}  // namespace b2bseg::detail::gen
