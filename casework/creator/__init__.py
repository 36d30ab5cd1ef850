"""The creator channel: status links, what the creator sees of a case, their replies, the emails
they get, and intake for creators who cannot sign in anywhere."""
