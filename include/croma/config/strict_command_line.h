#pragma once
// Every croma command reads its command line through here, so that nothing a user typed is
// silently dropped or reinterpreted:
//  - a word that belongs to no option (a stray word, or a list written with spaces:
//    `--eval-shots 1 5`) is refused, naming the word and how lists are written;
//  - an option name must be written in full: Boost's guessing of abbreviations is off, and an
//    unknown name that is the start of real ones is refused with the full names it matches.
// Errors are OptionError (exit 2, nothing written).
#include <boost/program_options.hpp>

namespace croma {

boost::program_options::parsed_options parse_strict_command_line(
    int argc, const char* const argv[], const boost::program_options::options_description& options);

}  // namespace croma
