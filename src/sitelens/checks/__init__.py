"""Checks, one module per concern. Importing this package registers them all."""
from . import bytecode  # noqa: F401,I001
from . import unreadable  # noqa: F401,I001
from . import user_site  # noqa: F401,I001
from . import writable  # noqa: F401,I001
from . import runnable  # noqa: F401,I001
from . import privilege  # noqa: F401,I001
from . import resolution  # noqa: F401,I001
from . import ownership  # noqa: F401,I001
from . import requirements  # noqa: F401,I001
from . import venv_integrity  # noqa: F401,I001
from . import interpreter_abi  # noqa: F401,I001
from . import waste  # noqa: F401,I001
