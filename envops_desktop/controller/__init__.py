"""QObjects the views talk to: they start workers, own the table models and speak to the user."""
