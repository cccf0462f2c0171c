"""One package per study, each holding its configuration, data, trainer, evaluation, tables, figures and CLI."""
