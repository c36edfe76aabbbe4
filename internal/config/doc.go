// Package config owns mdegate.yaml: its schema (Config and one type per section), reading it
// (Load, Parse), the YAML walk that gives every key its line and reports unknown keys,
// ${VAR} expansion, reading the files it names (Resolved), and validation that reports every
// problem at once, each naming its key and line (*Error).
//
// One file per section: the section's type, its validate method (writing into the shared
// problem list) and the views the gateway takes of it. Adding a section is adding its file,
// a field in Config and a line in Config.validate.
//
// The gateway that runs a Config lives in cmd/mdegate; routing, tokens and proxy never see
// YAML.
package config
