"""rows: a book and the publisher's configuration become one ACS row with its problems.

Owns the ACS columns and dialect, LSI's code tables, the pipeline's config files read into a Profile,
conversion, value rules and validation. Pure: no I/O except reading the config files once.
May import: errors, inputs. Nothing else of the sidecar.
"""
