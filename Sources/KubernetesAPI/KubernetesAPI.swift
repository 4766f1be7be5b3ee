// Placeholder: this module is being built; see DESIGN.md.
