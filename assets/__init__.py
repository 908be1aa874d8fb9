"""The shipped models, their model card and the sample films, installed as the
package ``pneumo_assets`` (see ``setup.py`` and ``pneumo.model.locate``).
Data only: nothing to import."""
