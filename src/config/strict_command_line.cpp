#include "croma/config/strict_command_line.h"

#include <string>
#include <vector>

#include "croma/config/options.h"

namespace po = boost::program_options;

namespace croma {
namespace {

// The long names of `options` that begin with `typed` (without its dashes).
std::vector<std::string> names_starting_with(const po::options_description& options, const std::string& typed) {
  std::vector<std::string> out;
  if (typed.empty()) return out;
  for (const auto& d : options.options()) {
    const auto& name = d->long_name();
    if (name.size() > typed.size() && name.compare(0, typed.size(), typed) == 0) out.push_back("--" + name);
  }
  return out;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

[[noreturn]] void refuse_unknown_option(const po::options_description& options, const std::string& token) {
  std::string name = token;
  while (!name.empty() && name.front() == '-') name.erase(name.begin());
  name = name.substr(0, name.find('='));
  const auto matches = names_starting_with(options, name);
  std::string message = "unrecognised option '" + token + "'";
  if (!matches.empty()) {
    message += " (option names are written in full: did you mean " + joined(matches) + "?)";
  } else {
    message += " (see --help)";
  }
  throw OptionError(message);
}

// The option given just before argv[index], if any: "--eval-shots 1" for the word "5".
std::string preceding(int argc, const char* const argv[], int index) {
  for (int i = index - 1; i >= 1 && i < argc; --i) {
    const std::string word = argv[i];
    if (word.rfind("--", 0) == 0) {
      std::string out = word;
      for (int j = i + 1; j < index; ++j) out += std::string(" ") + argv[j];
      return out;
    }
  }
  return "";
}

}  // namespace

po::parsed_options parse_strict_command_line(int argc, const char* const argv[], const po::options_description& options) {
  const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
  po::parsed_options parsed(&options);
  try {
    parsed = po::command_line_parser(argc, argv).options(options).style(style).run();
  } catch (const po::unknown_option& e) {
    refuse_unknown_option(options, e.get_option_name());
  } catch (const po::ambiguous_option& e) {
    refuse_unknown_option(options, e.get_option_name());
  }
  // Without a positional description Boost keeps free words as nameless entries, which
  // po::store then skips: find them here instead.
  for (const auto& o : parsed.options) {
    if (o.position_key < 0 && !o.string_key.empty()) continue;
    const std::string word = o.original_tokens.empty() ? std::string("?") : o.original_tokens.front();
    int index = 0;
    for (int i = 1; i < argc; ++i) {
      if (word == argv[i]) index = i;
    }
    const auto before = index > 0 ? preceding(argc, argv, index) : std::string();
    throw OptionError("unexpected word '" + word + "'" + (before.empty() ? "" : " after '" + before + "'") +
                      ": every value belongs to an option, and a list is written with commas and no spaces "
                      "(--eval-shots 1,5)");
  }
  return parsed;
}

}  // namespace croma
