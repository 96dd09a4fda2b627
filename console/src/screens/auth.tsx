import { useState } from 'preact/hooks';
import { api, problemText } from '../api/client';
import { setSession } from '../api/session';
import { useI18n } from '../i18n';

export function AuthScreen() {
  const { t } = useI18n();
  const [mode, setMode] = useState<'login' | 'register'>('login');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { email, password };
      const result = mode === 'login' ? await api.POST('/api/v1/auth/login', { body }) : await api.POST('/api/v1/auth/register', { body });
      if (!result.data) throw new Error(problemText(result.error));
      setSession({
        accessToken: result.data.access_token,
        refreshToken: result.data.refresh_token,
        email: result.data.user.email,
        role: result.data.user.role,
      });
    } catch (e) {
      setError(problemText(e));
    } finally {
      setBusy(false);
    }
  };

  const heading = mode === 'login' ? t('auth.login') : t('auth.register');
  return (
    <section class="card narrow" aria-labelledby="auth-heading">
      <h1 id="auth-heading">{heading}</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label>
          {t('auth.email')}
          <input type="email" name="email" autocomplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          {t('auth.password')}
          <input
            type="password"
            name="password"
            autocomplete={mode === 'login' ? 'current-password' : 'new-password'}
            minLength={8}
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {heading}
        </button>
      </form>
      <button type="button" class="link" onClick={() => setMode(mode === 'login' ? 'register' : 'login')}>
        {mode === 'login' ? t('auth.toRegister') : t('auth.toLogin')}
      </button>
    </section>
  );
}
