// How an option table parses, checks, prints and stores its options. Everything here works
// on any entry through its ValueRef: one visit per operation, one branch per value type.
#include "croma/config/option_registry.h"
#include "croma/config/strict_command_line.h"
#include "croma/config/study_arguments.h"

#include <boost/make_shared.hpp>
#include <boost/program_options.hpp>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <type_traits>

namespace po = boost::program_options;

namespace croma {

template <>
const std::vector<std::string>& enum_names<PairKind>() {
  static const std::vector<std::string> names = {"strong", "weak"};
  return names;
}
template <>
const std::vector<std::string>& enum_names<AlignLossKind>() {
  static const std::vector<std::string> names = {"margin", "infonce"};
  return names;
}
template <>
const std::vector<std::string>& enum_names<EncoderKind>() {
  static const std::vector<std::string> names = {"mlp", "pool", "lstm", "cnn"};
  return names;
}
template <>
const std::vector<std::string>& enum_names<SequencePool>() {
  static const std::vector<std::string> names = {"last", "mean", "max"};
  return names;
}

namespace {

template <class T, class U>
constexpr bool is = std::is_same_v<T, U>;

template <class T>
using Pointee = std::remove_pointer_t<T>;

[[noreturn]] void invalid(const std::string& option, const std::string& what) {
  throw OptionError("invalid value for --" + option + ": " + what);
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) text += (i ? separator : "") + items[i];
  return text;
}

[[noreturn]] void not_one_of(const std::string& option, const std::string& text, const std::vector<std::string>& choices) {
  invalid(option, "'" + text + "' (allowed: " + join(choices, ", ") + ")");
}

// "cuda:N" stands for "cuda:" and digits.
bool matches(const std::string& text, const std::string& choice) {
  if (choice.size() < 2 || choice.compare(choice.size() - 2, 2, ":N") != 0) return text == choice;
  const auto prefix = choice.substr(0, choice.size() - 1);
  return text.size() > prefix.size() && text.compare(0, prefix.size(), prefix) == 0 &&
         text.find_first_not_of("0123456789", prefix.size()) == std::string::npos;
}

std::string number_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// ---- text: a value as typed on the command line -----------------------------------------

template <class T>
std::string to_text(const T& value, const Domain& domain) {
  if constexpr (is<T, bool>) {
    return domain.choices.size() == 2 ? domain.choices[value ? 1 : 0] : (value ? "true" : "false");
  } else if constexpr (is<T, std::int64_t> || is<T, std::uint64_t>) {
    return std::to_string(value);
  } else if constexpr (is<T, double>) {
    return number_text(value);
  } else if constexpr (is<T, std::string>) {
    return value;
  } else if constexpr (std::is_enum_v<T>) {
    return enum_names<T>().at(static_cast<std::size_t>(value));
  } else {  // lists
    std::vector<std::string> items;
    for (const auto& item : value) items.push_back(to_text(item, domain));
    return join(items, ",");
  }
}

std::int64_t parse_integer(const std::string& option, const std::string& text) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) invalid(option, "'" + text + "' (expected an integer)");
  return value;
}

// Digits only: std::stoull (and Boost, which reads through it) would take "-1" as 2^64 - 1.
std::uint64_t parse_unsigned(const std::string& option, const std::string& text) {
  std::size_t used = 0;
  unsigned long long value = 0;
  const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  try {
    if (digits) value = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;  // out of range
  }
  if (used == 0 || used != text.size()) invalid(option, "'" + text + "' (expected an integer >= 0)");
  return value;
}

// Comma-separated numbers; `what` describes the list in the error.
template <class Number>
std::vector<Number> parse_list(const std::string& option, const std::string& text, const std::string& what,
                               const std::string& empty_hint) {
  std::vector<Number> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    Number value = 0;
    try {
      if constexpr (is<Number, double>) {
        value = std::stod(item, &used);
      } else {
        value = std::stoll(item, &used);
      }
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) invalid(option, "'" + text + "' (expected a comma-separated list of " + what + ")");
    values.push_back(value);
  }
  if (values.empty()) invalid(option, "empty list" + empty_hint);
  return values;
}

template <class T>
T from_text(const std::string& option, const std::string& text, const Domain& domain) {
  if constexpr (is<T, bool>) {
    const auto& names = domain.choices.size() == 2 ? domain.choices : std::vector<std::string>{"false", "true"};
    if (text != names[0] && text != names[1]) not_one_of(option, text, names);
    return text == names[1];
  } else if constexpr (is<T, std::int64_t>) {
    return parse_integer(option, text);
  } else if constexpr (is<T, std::uint64_t>) {
    return parse_unsigned(option, text);
  } else if constexpr (is<T, double>) {
    std::size_t used = 0;
    double value = 0;
    try {
      value = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size()) invalid(option, "'" + text + "' (expected a number)");
    return value;
  } else if constexpr (is<T, std::string>) {
    return text;
  } else if constexpr (std::is_enum_v<T>) {
    const auto& names = enum_names<T>();
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == text) return static_cast<T>(i);
    }
    not_one_of(option, text, names);
  } else if constexpr (is<T, std::vector<std::int64_t>>) {
    return parse_list<std::int64_t>(option, text, "positive integers, e.g. 1,5,10", " (expected e.g. 1,5,10)");
  } else if constexpr (is<T, std::vector<double>>) {
    return parse_list<double>(option, text,
                              domain.rule == Domain::Rule::kFraction ? "rates in [0, 1), e.g. 0,0.2,0.4"
                                                                     : "numbers, e.g. 0,0.5,1",
                              "");
  } else {  // std::vector<std::string>: kept as typed (--data: the data layer reads list files)
    return {text};
  }
}

// "V" (both modalities) or "S<sep>T" (source, target).
std::pair<std::string, std::string> split_source_target(const std::string& option, const std::string& text, char sep) {
  const auto at = text.find(sep);
  if (at == std::string::npos) return {text, text};
  const auto source = text.substr(0, at), target = text.substr(at + 1);
  if (source.empty() || target.empty() || target.find(sep) != std::string::npos) {
    invalid(option, "'" + text + "' (expected one value for both modalities, or source" + std::string(1, sep) +
                        "target)");
  }
  return {source, target};
}

void set_from_text(const std::string& option, const std::string& text, const Domain& domain, ValueRef ref) {
  std::visit([&](auto* p) { *p = from_text<Pointee<decltype(p)>>(option, text, domain); }, ref);
}

// ---- range checks -----------------------------------------------------------------------

template <class T>
void check_value(const std::string& option, const T& value, const Domain& domain) {
  using Rule = Domain::Rule;
  if constexpr (is<T, std::int64_t>) {
    if (domain.rule == Rule::kAtLeast && value < domain.minimum) {
      invalid(option, std::to_string(value) + " (must be >= " + std::to_string(domain.minimum) + ")");
    }
  } else if constexpr (is<T, double>) {
    const bool finite = std::isfinite(value);
    if (domain.rule == Rule::kPositive && !(value > 0.0 && finite)) {
      invalid(option, number_text(value) + " (must be a finite number > 0)");
    }
    if (domain.rule == Rule::kNonNegative && !(value >= 0.0 && finite)) {
      invalid(option, number_text(value) + " (must be a finite number >= 0)");
    }
    if (domain.rule == Rule::kFraction && !(value >= 0.0 && value < 1.0)) {
      invalid(option, number_text(value) + " (must be in [0, 1))");
    }
    if (domain.rule == Rule::kOpenFraction && !(value > 0.0 && value < 1.0)) {
      invalid(option, number_text(value) + " (must be in (0, 1))");
    }
  } else if constexpr (is<T, std::string>) {
    if (domain.rule == Rule::kOneOf) {
      bool allowed = false;
      for (const auto& choice : domain.choices) allowed = allowed || matches(value, choice);
      if (!allowed) not_one_of(option, value, domain.choices);
    }
    if (domain.rule == Rule::kNonEmptyPath && value.empty()) invalid(option, "empty path");
  } else if constexpr (is<T, std::vector<std::int64_t>> || is<T, std::vector<double>>) {
    for (const auto& item : value) check_value(option, item, domain);
    if (value.empty()) invalid(option, "empty list");
  }
  // bool, unsigned, enums, paths: every value their parsing accepts is allowed.
}

bool empty_list(ValueRef ref) {
  return std::visit(
      [](auto* p) {
        using T = Pointee<decltype(p)>;
        if constexpr (is<T, std::vector<std::int64_t>> || is<T, std::vector<double>>) return p->empty();
        return false;
      },
      ref);
}

// ---- JSON -------------------------------------------------------------------------------

template <class T>
nlohmann::json json_of(const T& value) {
  if constexpr (std::is_enum_v<T>) {
    return enum_names<T>().at(static_cast<std::size_t>(value));
  } else {
    return value;
  }
}

template <class Options>
void read_json(const OptionEntry<Options>& e, const nlohmann::json& j, ValueRef ref) {
  std::visit(
      [&](auto* p) {
        using T = Pointee<decltype(p)>;
        if constexpr (std::is_enum_v<T> || is<T, std::string>) {
          auto text = j.get<std::string>();
          for (const auto& [from, to] : e.renamed) {
            if (text == from) text = to;
          }
          *p = from_text<T>(e.name, text, e.domain);
        } else {
          j.get_to(*p);
        }
      },
      ref);
}

void assign(ValueRef to, ValueRef from) {
  std::visit([&](auto* p) { *p = *std::get<decltype(p)>(from); }, to);
}

// The member(s) an entry sets; const because reading never writes through them.
template <class Options>
std::vector<ValueRef> refs(const OptionEntry<Options>& e, const Options& o) {
  auto& target = const_cast<Options&>(o);
  if (e.per_modality()) return {e.value(target), e.target_value(target)};
  return {e.value(target)};
}

// Types Boost.Program_options converts itself, so that --help shows defaults and reports bad
// numbers exactly as it always has; every other type is parsed from text here. Unsigned
// integers are parsed here too: Boost would wrap a negative number around.
template <class Options>
bool typed_by_boost(const OptionEntry<Options>& e, ValueRef ref) {
  if (e.per_modality() || (!e.domain.choices.empty() && std::holds_alternative<bool*>(ref))) return false;
  return std::visit(
      [](auto* p) {
        using T = Pointee<decltype(p)>;
        return is<T, bool> || is<T, std::int64_t> || is<T, double> || is<T, std::string>;
      },
      ref);
}

template <class T>
po::typed_value<T>* with_default(po::typed_value<T>* value, const T& current, bool required, bool show_default) {
  if (required) return value->required();
  if (show_default) return value->default_value(current);
  return value;
}

// How Boost reads one entry: a typed entry straight into its member, any other as text into
// `staged` (converted by set_given_text once Boost is done).
template <class Options>
boost::shared_ptr<po::option_description> describe(const OptionEntry<Options>& e, Options& o, std::string& staged,
                                                    const std::string& text) {
  const ValueRef ref = e.value(o);
  const po::value_semantic* semantic = nullptr;
  if (typed_by_boost(e, ref)) {
    semantic = std::visit(
        [&](auto* p) -> const po::value_semantic* {
          using T = Pointee<decltype(p)>;
          if constexpr (is<T, bool>) {
            return po::bool_switch(p);
          } else if constexpr (is<T, std::int64_t> || is<T, double> || is<T, std::string>) {
            return with_default(po::value(p), *p, e.required, e.show_default);
          } else {
            return nullptr;  // never: typed_by_boost
          }
        },
        ref);
  } else {
    staged = text;
    semantic = with_default(po::value(&staged), staged, e.required, e.show_default);
  }
  return boost::make_shared<po::option_description>(e.name.c_str(), semantic, e.help.c_str());
}

template <class Options>
void set_given_text(const OptionEntry<Options>& e, const std::string& text, Options& o) {
  if (!e.per_modality()) return set_from_text(e.name, text, e.domain, e.value(o));
  const auto [source, target] = split_source_target(e.name, text, e.modality_separator);
  set_from_text(e.name, source, e.domain, e.value(o));
  set_from_text(e.name, target, e.domain, e.target_value(o));
}

// Stores argv and any --config FILE (the command line wins) in `vm`; false after --help or
// --help-markdown (which prints `markdown`).
bool run_boost(const po::options_description& all, const std::string& usage, int argc, const char* const argv[],
               po::variables_map& vm, const std::function<std::string()>& markdown) {
  try {
    po::store(parse_strict_command_line(argc, argv, all), vm);
    if (vm.count("help-markdown")) {
      std::cout << markdown();
      return false;
    }
    if (vm.count("help")) {
      std::cout << usage << "\n" << all << "\n";
      return false;
    }
    if (vm.count("config")) {
      const auto path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) throw OptionError("cannot read --config file '" + path + "'");
      po::store(po::parse_config_file(in, all, /*allow_unregistered=*/false), vm);
    }
    po::notify(vm);
  } catch (const OptionError&) {
    throw;
  } catch (const po::error& e) {
    throw OptionError(e.what());
  }
  return true;
}

// ---- Markdown: the reference page's tables (--help-markdown) ------------------------------

// A table cell: pipes escaped, so that "a | b" stays in its cell.
std::string cell(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string code_cell(const std::string& text) { return text.empty() ? "\"\"" : "`" + cell(text) + "`"; }

// The values an entry allows, in words: its rule, else what its type accepts.
template <class Options>
std::string allowed_text(const OptionEntry<Options>& e, ValueRef ref) {
  using Rule = Domain::Rule;
  const auto& d = e.domain;
  const bool is_list = std::holds_alternative<std::vector<std::int64_t>*>(ref) ||
                       std::holds_alternative<std::vector<double>*>(ref);
  std::string text;
  switch (d.rule) {
    case Rule::kAtLeast: text = "integer >= " + std::to_string(d.minimum); break;
    case Rule::kPositive: text = "number > 0"; break;
    case Rule::kNonNegative: text = "number >= 0"; break;
    case Rule::kFraction: text = "number in [0, 1)"; break;
    case Rule::kOpenFraction: text = "number in (0, 1)"; break;
    case Rule::kOneOf: {
      std::vector<std::string> quoted;
      for (const auto& choice : d.choices) quoted.push_back("`" + choice + "`");
      text = join(quoted, ", ");
      break;
    }
    case Rule::kNonEmptyPath: text = "a non-empty path"; break;
    case Rule::kAny:
      text = std::visit(
          [](auto* p) -> std::string {
            using T = Pointee<decltype(p)>;
            if constexpr (is<T, bool>) return "flag (no value)";
            if constexpr (is<T, std::int64_t> || is<T, std::vector<std::int64_t>>) return "integer";
            if constexpr (is<T, std::uint64_t>) return "integer >= 0";
            if constexpr (is<T, double> || is<T, std::vector<double>>) return "number";
            return "text";
          },
          ref);
      break;
  }
  if (!d.choices.empty() && std::holds_alternative<bool*>(ref)) text = join(std::vector<std::string>{"`" + d.choices[0] + "`", "`" + d.choices[1] + "`"}, ", ");
  if (is_list) text = "comma-separated list, each " + text;
  if (e.per_modality()) {
    text += "; one value for both modalities, or source" + std::string(1, e.modality_separator) + "target";
  }
  return cell(text);
}

void markdown_table(std::ostringstream& out, const std::string& title, const std::vector<std::string>& rows) {
  out << "\n### " << title << "\n\n| option | default | allowed values | description |\n| --- | --- | --- | --- |\n";
  for (const auto& row : rows) out << row;
}

}  // namespace

template <class Options>
std::vector<std::string> OptionEntry<Options>::json_pointers(const std::string& path) const {
  std::string pointer = "/" + (path.empty() ? json_path : path);
  for (auto& c : pointer) c = c == '.' ? '/' : c;
  if (pointer.find('*') == std::string::npos) return std::vector<std::string>(per_modality() ? 2 : 1, pointer);
  std::vector<std::string> both;
  for (const char* side : {"source", "target"}) {
    auto p = pointer;
    p.replace(p.find('*'), 1, side);
    both.push_back(p);
  }
  return both;
}

template <class Options>
OptionEntry<Options>& OptionTable<Options>::option(std::string name, typename Entry::Accessor value, std::string help) {
  Entry e;
  e.name = std::move(name);
  e.group = group_;
  e.help = std::move(help);
  e.value = std::move(value);
  // An enum's names are its allowed values.
  Options probe;
  std::visit(
      [&](auto* p) {
        using T = Pointee<decltype(p)>;
        if constexpr (std::is_enum_v<T>) e.one_of(enum_names<T>());
      },
      e.value(probe));
  entries_.push_back(std::move(e));
  return entries_.back();
}

template <class Options>
const OptionEntry<Options>& OptionTable<Options>::entry(const std::string& name) const {
  for (const auto& e : entries_) {
    if (e.name == name) return e;
  }
  throw std::out_of_range("no option --" + name);
}

template <class Options>
std::string OptionTable<Options>::text(const Entry& e, const Options& o) const {
  std::vector<std::string> sides;
  for (const auto& ref : refs(e, o)) {
    sides.push_back(std::visit([&](auto* p) { return to_text(*p, e.domain); }, ref));
  }
  if (sides.size() == 2 && sides[0] != sides[1]) return sides[0] + e.modality_separator + sides[1];
  return sides[0];
}

template <class Options>
std::string OptionTable<Options>::markdown(const std::string& usage, const Options& o) const {
  // "usage: croma train [options]" -> "croma train"
  std::istringstream words(usage.rfind("usage: ", 0) == 0 ? usage.substr(7) : usage);
  std::string program, command;
  words >> program >> command;
  std::ostringstream out;
  out << "## " << program << " " << command << "\n\n```\n" << usage << "\n```\n";
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  std::vector<std::string> general = {
      "| `--help`, `-h` | | flag (no value) | show the options, grouped, as text |\n",
      "| `--help-markdown` | | flag (no value) | show the options as these Markdown tables |\n",
      "| `--config` | | a file | read options from FILE (`name = value` lines); the command line wins |\n"};
  for (const auto& e : entries_) {
    const ValueRef ref = e.value(const_cast<Options&>(o));
    std::string default_text;
    if (e.required) {
      default_text = "required";
    } else if (!e.show_default) {
      default_text = "";
    } else if (typed_by_boost(e, ref) && std::holds_alternative<bool*>(ref)) {
      default_text = *std::get<bool*>(ref) ? "on" : "off";
    } else {
      default_text = code_cell(text(e, o));
    }
    const auto row = "| `--" + e.name + "` | " + default_text + " | " + allowed_text(e, ref) + " | " + cell(e.help) + " |\n";
    if (e.group == "General") {
      general.push_back(row);
      continue;
    }
    if (groups.empty() || groups.back().first != e.group) groups.emplace_back(e.group, std::vector<std::string>{});
    groups.back().second.push_back(row);
  }
  for (const auto& [title, rows] : groups) markdown_table(out, title, rows);
  markdown_table(out, "General", general);
  return out.str();
}

template <class Options>
std::optional<std::set<std::string>> OptionTable<Options>::parse(const std::string& usage, int argc,
                                                                 const char* const argv[], Options& o) const {
  std::vector<std::string> staged(entries_.size());
  std::vector<std::pair<std::string, po::options_description>> groups;
  std::string config_file;
  po::options_description general("General");
  general.add_options()("help,h", "show this help")("help-markdown", "show the options as Markdown tables")(
      "config", po::value(&config_file), "read options from FILE (key = value lines)");
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const auto& e = entries_[i];
    auto description = describe(e, o, staged[i], text(e, o));
    if (e.group == "General") {
      general.add(description);
      continue;
    }
    if (groups.empty() || groups.back().first != e.group) groups.emplace_back(e.group, po::options_description(e.group));
    groups.back().second.add(description);
  }
  po::options_description all;
  for (auto& [title, group] : groups) all.add(group);
  all.add(general);

  po::variables_map vm;
  // The defaults as they were before parsing (Boost has written given values into `o`).
  const Options before = o;
  if (!run_boost(all, usage, argc, argv, vm, [&] { return markdown(usage, before); })) return std::nullopt;
  std::set<std::string> given;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const auto& e = entries_[i];
    if (!vm.count(e.name) || vm[e.name].defaulted()) continue;  // defaults never round-trip through text
    given.insert(e.name);
    if (!typed_by_boost(e, e.value(o))) set_given_text(e, staged[i], o);
  }
  return given;
}

template <class Options>
void OptionTable<Options>::set_text(const std::string& name, const std::string& text, Options& o) const {
  set_given_text(entry(name), text, o);
}

template <class Options>
void OptionTable<Options>::check(const Options& o, const std::string& group) const {
  for (const auto& e : entries_) {
    if (!group.empty() && e.group != group) continue;
    for (const auto& ref : refs(e, o)) {
      if (!e.show_default && !e.required && empty_list(ref)) continue;  // a list without a default, not given
      std::visit([&](auto* p) { check_value(e.name, *p, e.domain); }, ref);
    }
  }
}

template <class Options>
void OptionTable<Options>::to_json(const Options& o, nlohmann::json& j) const {
  if (j.is_null()) j = nlohmann::json::object();
  for (const auto& e : entries_) {
    if (!e.stored() || (e.stored_if && !e.stored_if(o))) continue;
    const auto pointers = e.json_pointers();
    const auto values = refs(e, o);
    for (std::size_t k = 0; k < pointers.size(); ++k) {
      j[nlohmann::json::json_pointer(pointers[k])] = std::visit([](auto* p) { return json_of(*p); }, values[k]);
    }
  }
}

template <class Options>
void OptionTable<Options>::from_json(const nlohmann::json& j, Options& o) const {
  const Options defaults;
  for (const auto& e : entries_) {
    if (!e.stored()) continue;
    const auto pointers = e.json_pointers();
    const auto objects = e.optional_object.empty() ? pointers : e.json_pointers(e.optional_object);
    const auto values = refs(e, o);
    const auto default_values = refs(e, defaults);
    for (std::size_t k = 0; k < pointers.size(); ++k) {
      const nlohmann::json::json_pointer pointer(pointers[k]);
      const bool may_lack = e.stored_if || (e.optional_in_json && !j.contains(nlohmann::json::json_pointer(objects[k])));
      if (j.contains(pointer)) {
        read_json(e, j.at(pointer), values[k]);
      } else if (e.absent_as) {
        set_from_text(e.name, *e.absent_as, e.domain, values[k]);
      } else if (may_lack) {
        assign(values[k], default_values[k]);
      } else {
        (void)j.at(pointer);  // throws nlohmann's "key '...' not found"
      }
    }
  }
}

template class OptionTable<TrainOptions>;
template class OptionTable<EvalCommandOptions>;
template class OptionTable<StudyArguments>;
template class OptionTable<AdviseArguments>;
template struct OptionEntry<TrainOptions>;
template struct OptionEntry<EvalCommandOptions>;
template struct OptionEntry<StudyArguments>;
template struct OptionEntry<AdviseArguments>;

}  // namespace croma
