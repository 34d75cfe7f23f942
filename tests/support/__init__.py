"""What the tests share: projects, servers, renderers and contracts. Test modules import
from here, never from each other."""
