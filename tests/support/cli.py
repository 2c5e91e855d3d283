"""What the tests expect of the `sigap` command line."""

# the commands DESIGN.md §5 and the README name, in the order `sigap --help` lists them
COMMANDS = ("incident", "roster", "demo-roster", "tail", "replay", "demo", "topics", "rebuild", "info")
# a command as `sigap --help` lists it: four spaces in, at the start of a line
LISTED = r"^    ([a-z-]+)"
