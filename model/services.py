"""What the platform's data services hand their consumers, whatever provides them.

An add-on that keeps data (MLflow, Kubeflow Pipelines, backups) asks the object store for its
own bucket and PostgreSQL for its own database; it gets where to reach them and the name of a
Secret in its own namespace holding its own credentials, and nothing of anyone else's. The
object-store and PostgreSQL add-ons implement these protocols; a consumer finds them in
`AddonContext.deployed` under the names it `needs`.

Both calls register the consumer's resources (a bucket claim or IAM user, a database role)
at the time of the call, as children of `parent`, the consumer's component: they belong to
the consumer (they go when it is switched off), and the consumer, which waits for the whole
store or database add-on, does not wait for them through it. `depends_on` is what they wait
for in the consumer's namespace (the Namespace itself, so a Secret can be written into it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi

# The keys of a bucket's credentials Secret, as every S3 client reads them from the environment.
ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
# The keys of a database's credentials Secret (CloudNativePG's basic-auth layout).
USERNAME = "username"
PASSWORD = "password"


@dataclass(frozen=True)
class BucketAccess:
    # The S3 endpoint as pods reach it, e.g. http://rook-ceph-rgw-store.rook-ceph.svc:80.
    endpoint: pulumi.Input[str]
    region: str
    bucket: pulumi.Input[str]
    # A Secret in `namespace` with ACCESS_KEY_ID and SECRET_ACCESS_KEY for this bucket only.
    namespace: str
    secret_name: str
    # What a consumer waits for before using the bucket.
    ready: Sequence[pulumi.Resource]

    @property
    def url(self) -> pulumi.Output[str]:
        """`s3://<bucket>/`, as S3 tools name it."""
        return pulumi.Output.concat("s3://", self.bucket, "/")


class ObjectStore(Protocol):
    def bucket(
        self,
        consumer: str,
        namespace: str,
        *,
        versioned: bool = False,
        expire_after_days: int | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
        endpoint_key: str | None = None,
        parent: pulumi.Resource | None = None,
    ) -> BucketAccess:
        """A bucket of `consumer`'s own, its credentials delivered into `namespace`;
        `depends_on`: what the resources in that namespace wait for (the Namespace).

        `versioned`: overwritten and deleted objects are kept for a while (where the provider
        can); `expire_after_days`: objects are deleted that many days after they were written.
        `endpoint_key`: the Secret also holds the endpoint under this key (Longhorn reads
        AWS_ENDPOINTS there); a provider that does not write the Secret itself refuses it.
        `parent`: the consumer's component (see above); without one they are the store's."""
        ...


@dataclass(frozen=True)
class DatabaseAccess:
    host: str  # the read-write Service's in-cluster DNS name
    port: int
    database: str
    # A Secret in `namespace` with USERNAME and PASSWORD of the database's owner.
    namespace: str
    secret_name: str
    ready: Sequence[pulumi.Resource]


class Postgres(Protocol):
    def database(
        self,
        name: str,
        namespace: str,
        *,
        depends_on: Sequence[pulumi.Resource] = (),
        createdb: bool = False,
        parent: pulumi.Resource | None = None,
    ) -> DatabaseAccess:
        """A database `name` owned by a role of the same name, its credentials delivered
        into `namespace`; `depends_on` as for buckets.

        `createdb`: the role may create databases (CNPG's RoleConfiguration `createdb`).
        Kubeflow Pipelines' API server runs `CREATE DATABASE <its database>` at every start
        and tolerates only "already exists" (kubeflow/pipelines@2.17.0:
        backend/src/apiserver/client_manager/client_manager.go, initDBDriver); PostgreSQL
        checks the CREATEDB privilege before it checks whether the database exists, so
        without it the server stops with "permission denied to create database". The
        password must also survive an unquoted libpq DSN there (client/sql.go): no spaces,
        quotes or backslashes."""
        ...
