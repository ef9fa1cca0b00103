"""Words and numbers for people, shared by the report and the app: formatting, wording,
the file-browser view model and the reports. No Textual here."""
