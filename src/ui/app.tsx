import { useEffect, useMemo, useState } from "preact/hooks";
import { Link } from "./components/link.tsx";
import { ComparePage } from "./pages/compare.tsx";
import { ExperimentPage } from "./pages/experiment.tsx";
import { Experiments } from "./pages/experiments.tsx";
import { KeysPage } from "./pages/keys.tsx";
import { NewExperiment } from "./pages/new-experiment.tsx";
import { RunPage } from "./pages/run.tsx";
import { RunsPage } from "./pages/runs.tsx";
import { SignIn } from "./pages/sign-in.tsx";
import { type Route, useRoute } from "./router.ts";
import { clientWithKey, forgetKey, SessionContext, storedKey, storeKey } from "./session.ts";

/**
 * The dashboard's shell: sign-in until a key is kept, then the page of the current path. A 401 on
 * any request (the key was revoked) signs out and says why on the sign-in page.
 */
export function App() {
  const [key, setKey] = useState(storedKey);
  const [refused, setRefused] = useState(false);
  const route = useRoute();
  const session = useMemo(() => {
    if (!key) return null;
    const signOut = () => {
      forgetKey();
      setKey(null);
    };
    const onUnauthorized = () => {
      setRefused(true);
      signOut();
    };
    return { client: clientWithKey(key, onUnauthorized), signOut };
  }, [key]);
  // The Keys link is shown to keys that may list keys (admin, operator): asked once per sign-in.
  const [managesKeys, setManagesKeys] = useState(false);
  useEffect(() => {
    setManagesKeys(false);
    if (!session) return;
    let live = true;
    session.client.GET("/v1/keys", { params: { query: {} } }).then(
      (result) => live && setManagesKeys(result.response.ok),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [session]);

  if (!session) {
    return (
      <SignIn
        refused={refused}
        onSignedIn={(k) => {
          storeKey(k);
          setRefused(false);
          setKey(k);
        }}
      />
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <header class="top">
        <nav aria-label="Main">
          <Link to={{ page: "experiments" }}>
            <strong>autoprog</strong>
          </Link>
          <Link to={{ page: "experiments" }}>Experiments</Link>
          <Link to={{ page: "runs" }}>Runs</Link>
          <Link to={{ page: "new" }}>New experiment</Link>
          <Link to={{ page: "compare" }}>Compare</Link>
          {managesKeys && <Link to={{ page: "keys" }}>Keys</Link>}
          <a href="/reference">API reference</a>
        </nav>
        <button type="button" onClick={session.signOut}>
          Sign out
        </button>
      </header>
      <Page route={route} />
    </SessionContext.Provider>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "experiments":
      return <Experiments />;
    case "new":
      return <NewExperiment />;
    case "experiment":
      return <ExperimentPage key={route.id} id={route.id} />;
    case "run":
      return <RunPage key={route.id} id={route.id} />;
    case "runs":
      return <RunsPage />;
    case "compare":
      return <ComparePage />;
    case "keys":
      return <KeysPage />;
    case "not-found":
      return (
        <main data-testid="not-found">
          <h1>Not found</h1>
          <p>
            No page at <code>{route.path}</code>. <Link to={{ page: "experiments" }}>Experiments</Link>
          </p>
        </main>
      );
  }
}
