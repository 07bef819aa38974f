"""mobiledeploy: MobileNet from Keras definition to measured artifacts on phones and boards.

The Python library is `mobiledeploy.api` (`import mobiledeploy.api as md`; md.export, md.load, md.bench,
md.sweep, md.pick, ...). Its functions are not re-exported here: their names are also the names of this
package's subpackages (mobiledeploy.export, mobiledeploy.bench, mobiledeploy.sweep), which Python binds
on this module as soon as they are imported.
"""

from .version import __version__

__all__ = ["__version__"]
