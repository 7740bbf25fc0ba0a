"""What the lifespan builds once and every request reads."""

import asyncio
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.ext.asyncio import AsyncSession as DbSession

from bay.config import Settings
from bay.drivers.base import Driver
from bay.metrics import Metrics
from bay.services.browser_learning import BrowserLearning
from bay.services.census import Census
from bay.services.clock import Clock
from bay.services.execs import ExecLimits
from bay.services.gc import GcService
from bay.services.keys import Principal
from bay.services.memory import Memory
from bay.services.port_links import PortLinks
from bay.services.profiles import ProfileCatalog
from bay.services.records import Records
from bay.services.sessions import SessionRuntime
from bay.services.tasks import Tasks
from bay.services.warm_pool import WarmPool
from bay.ship_client import ShipClient


class State(TypedDict):
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[DbSession]
    driver: Driver
    ship: ShipClient
    profiles: ProfileCatalog
    runtime: SessionRuntime
    clock: Clock
    gc: GcService
    learning: BrowserLearning
    pool: WarmPool
    records: Records
    exec_limits: ExecLimits
    tasks: Tasks
    recent_keys: Memory[Principal]  # see services.recent_keys
    port_links: PortLinks
    write_turn: asyncio.Lock | None  # SQLite only: see get_db
    metrics: Metrics
    census: Census
