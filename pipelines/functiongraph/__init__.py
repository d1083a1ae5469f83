"""The `functiongraph` dlt source: FunctionGraph functions and their async-invoke configs.

The face of the package, as in dlt's verified sources; the data path is in its folders:

- `config/`: settings, credentials and scopes, validated before any request;
- `http/`: the API's paths (`api`), the client with its one retry loop, paging, rate limit,
  and `auth/` with one module per credential kind;
- `shaping/`: pure functions from API items to table rows (no I/O);
- `changes`: the warehouse's live fingerprints against what was fetched: only changes are sent;
- `retirement`: the merge rules and `gone` markers that let only complete fetches retire rows;
- `outcome`: what a run fetched and what failed, per scope;
- `source`: the dlt source and its one resource, tying these together.
"""

from pipelines.functiongraph.config.credentials import FunctionGraphCredentials
from pipelines.functiongraph.source import functiongraph

__all__ = ["FunctionGraphCredentials", "functiongraph"]
